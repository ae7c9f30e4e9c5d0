"""Services: the use cases behind the routes, built once per process in the app's lifespan."""

from dataclasses import dataclass

import asyncpg
from temporalio.client import Client

from api.services.agenda import AgendaService
from api.services.briefs import BriefService
from api.services.codec import CodecService
from api.services.enrollment_preview import EnrollmentPreviewService
from api.services.enrollments import EnrollmentService
from api.services.family import FamilyService
from api.services.learning_events import LearningEventService
from api.services.message_preview import MessagePreviewService
from api.services.ops_desk import OpsDeskService
from api.services.parent_replies import ParentReplyService
from api.services.people import PeopleService
from api.services.progress import ProgressService
from api.services.readiness import ReadinessService
from api.services.reassignments import ReassignmentService
from api.services.reconciler import WorkflowReconciler
from api.services.sessions import SessionService, utc_now
from api.services.sign_in import SignInService
from api.services.slots import SlotService
from coach_sessions.provider_tokens import ProviderTokenVerifier
from coach_sessions.providers.calendar import BusyTimes, build_busy_times
from coach_sessions.repositories.agenda import AgendaRepository
from coach_sessions.repositories.briefs import BriefRepository
from coach_sessions.repositories.child_records import ChildRecordRepository
from coach_sessions.repositories.enrollment_end import EnrollmentEndRepository
from coach_sessions.repositories.enrollments import EnrollmentRepository
from coach_sessions.repositories.erasures import ErasureRepository
from coach_sessions.repositories.family_links import FamilyLinkRepository
from coach_sessions.repositories.idempotency import IdempotencyRepository
from coach_sessions.repositories.inbound import InboundRepository
from coach_sessions.repositories.learning_events import LearningEventRepository
from coach_sessions.repositories.ops_desk import OpsDeskRepository
from coach_sessions.repositories.people import PeopleRepository
from coach_sessions.repositories.principals import PrincipalRepository
from coach_sessions.repositories.progress import ProgressRepository
from coach_sessions.repositories.reassignments import ReassignmentRepository
from coach_sessions.repositories.reconciliations import ReconciliationRepository
from coach_sessions.repositories.retrying_activities import RetryingActivityRepository
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.repositories.sign_in_sessions import SignInSessionRepository
from coach_sessions.settings import Settings


@dataclass(frozen=True)
class Services:
    pool: asyncpg.Pool
    temporal: Client
    people: PeopleService
    family: FamilyService
    enrollment_preview: EnrollmentPreviewService
    ops_desk: OpsDeskService
    reassignments: ReassignmentService
    sessions: SessionService
    agenda: AgendaService
    message_previews: MessagePreviewService
    enrollments: EnrollmentService
    parent_replies: ParentReplyService
    readiness: ReadinessService
    progress: ProgressService
    slots: SlotService
    briefs: BriefService
    learning_events: LearningEventService
    reconciler: WorkflowReconciler
    sign_in: SignInService
    codec: CodecService

    @classmethod
    def build(
        cls, pool: asyncpg.Pool, temporal: Client, settings: Settings, *, calendar: BusyTimes | None = None
    ) -> "Services":
        """``calendar`` answers free/busy for the slot finder; by default the configured provider."""
        people_repo = PeopleRepository(pool)
        session_repo = SessionRepository(pool)
        reconciliations = ReconciliationRepository(pool)
        sessions = SessionService(
            session_repo,
            people_repo,
            temporal,
            settings.temporal_task_queue,
            IdempotencyRepository(pool),
            consent_window=settings.cancellation_auto_approve_after,
            answer_within=settings.action_answer_within,
            minimum_notice=settings.coach_min_notice,
            reconciliations=reconciliations,
        )
        busy_times = calendar or build_busy_times(settings, pool)
        reconciler = WorkflowReconciler(reconciliations, temporal, settings.temporal_task_queue)
        people = PeopleService(
            people_repo, ChildRecordRepository(pool), ErasureRepository(pool), temporal, settings.temporal_task_queue
        )
        return cls(
            pool=pool,
            temporal=temporal,
            people=people,
            family=FamilyService(
                FamilyLinkRepository(pool),
                people,
                secret=settings.family_link_key(),
                ttl=settings.family_link_ttl,
                clock=utc_now,
            ),
            reassignments=ReassignmentService(ReassignmentRepository(pool), reconciler),
            enrollment_preview=EnrollmentPreviewService(pool, people_repo, busy_times, settings),
            ops_desk=OpsDeskService(
                OpsDeskRepository(pool),
                reconciler,
                reconciliations,
                temporal,
                settings.temporal_task_queue,
                RetryingActivityRepository(pool),
            ),
            sessions=sessions,
            agenda=AgendaService(AgendaRepository(pool), minimum_notice=settings.coach_min_notice),
            message_previews=MessagePreviewService(
                session_repo,
                consent_window=settings.cancellation_auto_approve_after,
                minimum_notice=settings.coach_min_notice,
                clock=utc_now,
            ),
            enrollments=EnrollmentService(
                EnrollmentRepository(pool),
                session_repo,
                temporal,
                settings.temporal_task_queue,
                reconciliations,
                EnrollmentEndRepository(pool),
                reconciler,
            ),
            reconciler=reconciler,
            parent_replies=ParentReplyService(InboundRepository(pool), temporal, settings.temporal_task_queue),
            readiness=ReadinessService(
                pool, temporal, settings.temporal_task_queue, worker_stale_after=settings.worker_heartbeat_stale_after
            ),
            progress=ProgressService(ProgressRepository(pool), people_repo),
            slots=SlotService(
                pool,
                session_repo,
                people_repo,
                busy_times,
                settings,
            ),
            briefs=BriefService(session_repo, BriefRepository(pool), temporal, settings.temporal_task_queue),
            learning_events=LearningEventService(
                LearningEventRepository(pool), people_repo, session_repo, temporal, settings.temporal_task_queue
            ),
            sign_in=SignInService(
                PrincipalRepository(pool),
                SignInSessionRepository(pool),
                settings,
                ProviderTokenVerifier.from_settings(settings),
            ),
            codec=CodecService(temporal.data_converter.payload_codec),
        )
