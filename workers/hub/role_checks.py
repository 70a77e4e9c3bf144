"""The permissions table as a FastAPI dependency: one role check for both web doors.

Each door says only how it finds the person and how a refusal looks. The API finds
the client of the bearer key and refuses with a 403 problem; the console finds the
signed-in person and lets :class:`~workers.hub.permissions.NotPermitted` through,
which its routes answer with a 403 page. A door binds the check once::

    permitted_to = role_check(caller, refused=forbidden)

and each page says who may open it::

    HubStaff = Annotated[ApiClient, Depends(permitted_to(Work.ACT_FOR_THE_HUB))]
"""

# No ``from __future__ import annotations``: FastAPI reads ``check``'s annotation at run
# time, and ``person`` in it is a closure variable that a string could not name.

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends

from workers.hub.clients import ApiClient
from workers.hub.permissions import NotPermitted, Work, require

FindPerson = Callable[..., Awaitable[ApiClient]]  # a FastAPI dependency
RoleCheck = Callable[[ApiClient], Awaitable[ApiClient]]


def role_check(
    person: FindPerson, *, refused: Callable[[NotPermitted], Exception] | None = None
) -> Callable[[Work], RoleCheck]:
    """``permitted_to(work)`` for a door that finds its person with ``person``.

    ``permitted_to(work)`` is a dependency: the person, if the permissions table
    lets their role into ``work``; otherwise it raises ``refused(refusal)``, or the
    :class:`NotPermitted` itself without ``refused``.
    """

    def permitted_to(work: Work) -> RoleCheck:
        async def check(found: Annotated[ApiClient, Depends(person)]) -> ApiClient:
            try:
                require(found.role, work)
            except NotPermitted as refusal:
                if refused is None:
                    raise
                raise refused(refusal) from refusal
            return found

        return check

    return permitted_to
