"""FastAPI dependencies: the services opened by the app's lifespan, and the caller's API key."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from app.errors import rate_limit_headers
from companion.core.errors import AuthenticationError, PermissionDeniedError
from companion.services import Services
from memory.api_keys import ApiKey, KeyScope
from memory.long_term import LongTermStore
from memory.records import USER_ID_PATTERN
from memory.sensitivity import Sensitivity


def get_services(request: Request) -> Services:
    """The live services of this app."""
    services: Services = request.app.state.services
    return services


def get_conversation_graph(request: Request) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The compiled conversation graph of this app."""
    graph: CompiledStateGraph[Any, Any, Any, Any] = request.app.state.conversation_graph
    return graph


def get_checkpointer(request: Request) -> BaseCheckpointSaver[Any]:
    """The LangGraph checkpointer of this app."""
    checkpointer: BaseCheckpointSaver[Any] = request.app.state.checkpointer
    return checkpointer


async def add_rate_limit_headers(response: Response, services: Services, user_id: str) -> None:
    """``X-RateLimit-*`` on a response of a route that counts against the user's per-minute limit."""
    status = await services.short_term.rate_limit(user_id)
    response.headers.update(rate_limit_headers(status.limit, status.remaining, status.reset_seconds))


def reject_unknown_query_parameters(request: Request) -> None:
    """422 for a query parameter the route does not declare, or one given twice (neither is silently ignored)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    known = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        known |= {param.alias for param in dependency.query_params}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise RequestValidationError(
            [{"loc": ("query", unknown[0][:100]), "msg": "unknown query parameter", "type": "extra_forbidden"}]
        )
    repeated = sorted(name for name in known if len(request.query_params.getlist(name)) > 1)
    if repeated:
        raise RequestValidationError(
            [{"loc": ("query", repeated[0]), "msg": "given more than once", "type": "repeated_parameter"}]
        )


ServicesDep = Annotated[Services, Depends(get_services)]
ConversationGraphDep = Annotated[CompiledStateGraph[Any, Any, Any, Any], Depends(get_conversation_graph)]
CheckpointerDep = Annotated[BaseCheckpointSaver[Any], Depends(get_checkpointer)]

bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `companion keys create` as `Authorization: Bearer cmp_...`.",
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Whoever holds the request's API key, and the store that knows which tenant each user belongs to."""

    key: ApiKey
    users: LongTermStore

    @property
    def is_admin(self) -> bool:
        """Admin keys may act on every user of their tenant (an operator key: of every tenant) and on admin routes."""
        return self.key.scope is KeyScope.ADMIN

    @property
    def tenant(self) -> str | None:
        """The tenant this key is confined to; ``None`` for an operator key (every tenant)."""
        return None if self.key.is_operator else self.key.tenant

    def authorize_user(self, user_id: str) -> str:
        """``user_id`` if this key may act on that user's data, else ``PermissionDeniedError``.

        A user key reaches its own user only; every key but an operator key reaches only users of its own tenant
        (``UserCollections.authorize``, which also claims a new user id for the key's tenant).
        """
        if not self.is_admin and self.key.user_id != user_id:
            raise PermissionDeniedError(
                f"this API key belongs to another user and may not access data of user {user_id[:128]!r}"
            )
        if self.tenant is not None:
            self.users.authorize_tenant(user_id, self.tenant)
        return user_id

    def clearance_for(self, user_id: str) -> Sensitivity:
        """The most sensitive memory level of ``user_id`` this key is shown.

        All of them for the user's own key; the admin key's clearance otherwise (``keys create --clearance``).
        """
        if self.key.scope is KeyScope.USER and self.key.user_id == user_id:
            return Sensitivity.ULTRASECRET
        return self.key.clearance


#: Who holds this process's local token (``create_app(local_token=...)``): the CLI on the same data dir, which could
#: open every store and read the encryption key itself, so an operator key that sees every level.
LOCAL_KEY = ApiKey(
    key_id="local",
    name="companion CLI on this data dir",
    scope=KeyScope.ADMIN,
    user_id="",
    created_at=0.0,
    tenant="",
    clearance=Sensitivity.ULTRASECRET,
)


def is_local_token(request: Request, secret: str) -> bool:
    """Whether ``secret`` is this app's local token (compared in constant time)."""
    token: str | None = getattr(request.app.state, "local_token", None)
    return token is not None and hmac.compare_digest(secret.encode("utf-8"), token.encode("utf-8"))


async def get_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """Resolve the bearer key; 401 when it is missing, unknown or revoked."""
    if credentials is None:
        raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>' (companion keys create)")
    services = get_services(request)
    if is_local_token(request, credentials.credentials):
        return Caller(LOCAL_KEY, services.long_term)
    key = await services.api_keys.resolve(credentials.credentials)
    if key is None:
        raise AuthenticationError("unknown or revoked API key")
    return Caller(key, services.long_term)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_admin(caller: CallerDep) -> Caller:
    """The caller, who must hold an admin key."""
    if not caller.is_admin:
        raise PermissionDeniedError("this route needs an admin API key")
    return caller


AdminDep = Annotated[Caller, Depends(get_admin)]


async def get_operator(admin: AdminDep) -> Caller:
    """The caller, who must hold an operator key (admin of every tenant): for routes whose data spans tenants."""
    if admin.tenant is not None:
        raise PermissionDeniedError(
            f"this route spans every tenant; it needs an operator key (an admin key created without --tenant), "
            f"not an admin key of tenant '{admin.tenant}'"
        )
    return admin


OperatorDep = Annotated[Caller, Depends(get_operator)]

UserIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=USER_ID_PATTERN.pattern,
        description="User id: 1-128 letters, digits or _ . : @ -, starting with a letter or digit.",
        examples=["alice"],
    ),
]


async def get_authorized_user(user_id: UserIdPath, caller: CallerDep) -> str:
    """The ``{user_id}`` of the path, if the caller's key may act on it (403 otherwise)."""
    return caller.authorize_user(user_id)


AuthorizedUser = Annotated[str, Depends(get_authorized_user)]


async def get_fully_cleared_user(user_id: AuthorizedUser, caller: CallerDep) -> str:
    """The ``{user_id}`` of the path, for routes that show unclassified text (raw transcripts, session summaries).

    Those cannot be filtered by level, so they take the user's own key or an admin key of clearance ``ultrasecret``.
    """
    clearance = caller.clearance_for(user_id)
    if clearance is not Sensitivity.ULTRASECRET:
        raise PermissionDeniedError(
            f"this route shows raw transcripts, which carry no sensitivity level; it needs the user's own key or an "
            f"admin key of clearance ultrasecret (this key's clearance is {clearance.value})"
        )
    return user_id


FullyClearedUser = Annotated[str, Depends(get_fully_cleared_user)]
