"""Delivering queued WhatsApp messages from the outbox (see the outbox repository for the guarantees)."""

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
from coach_sessions.repositories.outbox import OutboxRepository
from coach_sessions.statuses import MessageStatus


class MessagingActivities:
    def __init__(self, outbox: OutboxRepository, whatsapp: WhatsAppProvider) -> None:
        self._outbox = outbox
        self._whatsapp = whatsapp

    @activity.defn
    async def deliver_message(self, request: DeliverMessageInput) -> str:
        message, status = await self._outbox.claim(request.message_id)
        if message is None:
            if status == MessageStatus.IN_DOUBT:
                activity.logger.error(
                    "message in doubt: an earlier attempt died mid-send; not resent",
                    extra={"message_id": str(request.message_id)},
                )
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
            await self._outbox.release(message.id, str(error))
            raise
        except WhatsAppRejectedError as error:
            await self._outbox.mark_failed(message.id, str(error))
            activity.logger.error("provider refused message", extra=log_context | {"error": str(error)})
            raise ApplicationError(str(error), type=MESSAGE_REJECTED, non_retryable=True) from error
        except WhatsAppUncertainError:
            # Left "sending": the retry marks it in_doubt rather than risk a second copy.
            raise
        await self._outbox.mark_sent(
            message.id, provider=result.provider, provider_message_id=result.provider_message_id
        )
        activity.logger.info("message sent", extra=log_context | {"provider": result.provider})
        return MessageStatus.SENT.value
