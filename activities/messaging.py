"""Delivering queued WhatsApp messages from the outbox (see the outbox repository for the guarantees)."""

from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import MESSAGE_REJECTED
from coach_sessions.contracts import DeliverMessageInput
from coach_sessions.providers.whatsapp import (
    WhatsAppMessage,
    WhatsAppNotSentError,
    WhatsAppProvider,
    WhatsAppRejectedError,
    WhatsAppUncertainError,
)
from coach_sessions.repositories.outbox import BEING_DELIVERED, DeliveryAttempt, OutboxRepository
from coach_sessions.statuses import MessageStatus

# How long past its own timeout an attempt's claim stands before anyone may call it dead.
CLAIM_GRACE = timedelta(seconds=30)
_NO_TIMEOUT = timedelta(minutes=5)


def this_attempt() -> DeliveryAttempt:
    """This activity attempt: a retry of the same delivery has the same name and a higher number."""
    info = activity.info()
    timeout = info.start_to_close_timeout or info.schedule_to_close_timeout or _NO_TIMEOUT
    return DeliveryAttempt(
        delivery=f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}",
        number=info.attempt,
        alive_for=timeout + CLAIM_GRACE,
    )


class MessagingActivities:
    def __init__(self, outbox: OutboxRepository, whatsapp: WhatsAppProvider) -> None:
        self._outbox = outbox
        self._whatsapp = whatsapp

    @activity.defn
    async def deliver_message(self, request: DeliverMessageInput) -> str:
        attempt = this_attempt()
        message, status = await self._outbox.claim(request.message_id, attempt)
        if message is None:
            if status == MessageStatus.IN_DOUBT:
                activity.logger.error(
                    "message in doubt: an earlier attempt died mid-send; not resent",
                    extra={"message_id": str(request.message_id)},
                )
            elif status == BEING_DELIVERED:  # another dispatch of this message: its attempt decides
                activity.logger.info("message already being delivered", extra={"message_id": str(request.message_id)})
            return status
        log_context = {
            "message_id": str(message.id),
            "template": message.template_name,
            "session_id": str(message.session_id),
        }
        try:
            result = await self._whatsapp.send(
                WhatsAppMessage(
                    destination=message.destination,
                    user_name=message.user_name,
                    campaign_name=message.template_name,
                    template_params=message.template_params,
                    idempotency_key=message.idempotency_key,
                )
            )
        except WhatsAppNotSentError as error:
            await self._outbox.release(message.id, attempt, str(error))
            raise
        except WhatsAppRejectedError as error:
            await self._outbox.mark_failed(message.id, str(error))
            activity.logger.error("provider refused message", extra=log_context | {"error": str(error)})
            raise ApplicationError(str(error), type=MESSAGE_REJECTED, non_retryable=True) from error
        except WhatsAppUncertainError:
            # Left "sending": the retry (same delivery) marks it in_doubt rather than risk a second copy.
            raise
        await self._outbox.mark_sent(
            message.id, provider=result.provider, provider_message_id=result.provider_message_id
        )
        activity.logger.info("message sent", extra=log_context | {"provider": result.provider})
        return MessageStatus.SENT.value
