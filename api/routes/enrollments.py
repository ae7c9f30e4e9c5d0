"""Admin: enrolling a child starts its numbered sessions."""

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from api.deps import AdminPrincipal, ServicesDep
from api.openapi import ADMIN_ONLY, AUTHENTICATED, AUTHENTICATED_WRITE, JSON_BODY, errors
from api.schemas import CreateEnrollment, EndEnrollment, EnrollmentCreated, EnrollmentEnded
from api.services.enrollment_preview import EnrollmentPreview
from coach_sessions.errors import ErrorCode
from coach_sessions.models import Enrollment

router = APIRouter(prefix="/api/enrollments", tags=["enrollments"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrollmentCreated,
    responses={
        200: {"model": EnrollmentCreated, "description": "The same enrollment was posted before"},
        **errors(
            *AUTHENTICATED_WRITE,
            *JSON_BODY,
            *ADMIN_ONLY,
            ErrorCode.NOT_FOUND,
            ErrorCode.ENROLLMENT_EXISTS,
            ErrorCode.CONFLICT,
        ),
    },
)
async def create_enrollment(
    body: CreateEnrollment, admin: AdminPrincipal, services: ServicesDep, response: Response
) -> EnrollmentCreated:
    """Enroll a child: sessions 1..N are created at once; posting the same enrollment again answers
    it (200); another plan while the child has an active enrollment with the coach is 409."""
    enrollment, sessions, created = await services.enrollments.enroll(body.plan())
    if not created:
        response.status_code = status.HTTP_200_OK
    return EnrollmentCreated(enrollment=enrollment, sessions=[services.sessions.view(admin, s) for s in sessions])


@router.post(
    "/preview",
    response_model=EnrollmentPreview,
    responses=errors(*AUTHENTICATED_WRITE, *JSON_BODY, *ADMIN_ONLY, ErrorCode.NOT_FOUND),
)
async def preview_enrollment(body: CreateEnrollment, _: AdminPrincipal, services: ServicesDep) -> EnrollmentPreview:
    """The plan's sessions before anything is created: each one's date and time in the coach's timezone,
    flagged where it clashes with the coach's other sessions or busy calendar time, falls outside
    working hours, or lies in the past. Creates nothing."""
    return await services.enrollment_preview.preview(body.plan())


@router.post(
    "/{enrollment_id}/end",
    response_model=EnrollmentEnded,
    responses=errors(*AUTHENTICATED_WRITE, *JSON_BODY, *ADMIN_ONLY, ErrorCode.NOT_FOUND, ErrorCode.CONFLICT),
)
async def end_enrollment(
    enrollment_id: UUID, body: EndEnrollment, admin: AdminPrincipal, services: ServicesDep
) -> EnrollmentEnded:
    """End an enrolment early (the family leaves): its sessions still to come are cancelled and their
    calendar events freed, the parent is told once, the learning record stays. Again: the same answer.
    An enrolment whose sessions were all resolved is over already (409 conflict)."""
    ending = await services.enrollments.end_early(admin.id, enrollment_id, body.reason)
    return EnrollmentEnded(**{k: v for k, v in vars(ending).items() if k != "created"}, replayed=not ending.created)


class EnrollmentSummary(BaseModel):
    id: UUID
    child_id: UUID
    coach_id: UUID
    start_date: date
    session_time: str = Field(description="HH:MM in the enrolment's timezone.")
    weekdays: list[str]
    session_count: int
    duration_minutes: int
    timezone: str
    status: str
    created_at: datetime
    ended_at: datetime | None
    end_reason: str | None

    @classmethod
    def of(cls, enrollment: Enrollment) -> "EnrollmentSummary":
        return cls(**(enrollment.model_dump() | {"session_time": enrollment.session_time.strftime("%H:%M")}))


class EnrollmentList(BaseModel):
    enrollments: list[EnrollmentSummary]


@router.get("", response_model=EnrollmentList, responses=errors(*AUTHENTICATED, *ADMIN_ONLY))
async def list_enrollments(
    child_id: Annotated[UUID, Query(alias="childId")], _: AdminPrincipal, services: ServicesDep
) -> EnrollmentList:
    """Admin: a child's enrolments, newest first (active or ended; an unknown child has none)."""
    return EnrollmentList(enrollments=[EnrollmentSummary.of(e) for e in await services.enrollments.for_child(child_id)])
