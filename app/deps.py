"""FastAPI dependencies: the services opened by the app's lifespan, and the caller's API key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from companion.errors import AuthenticationError, PermissionDeniedError
from companion.services import Services
from memory.api_keys import ApiKey, ApiKeyStore, KeyScope
from memory.records import USER_ID_PATTERN


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
    """Whoever holds the request's API key."""

    key: ApiKey

    @property
    def is_admin(self) -> bool:
        """Admin keys may act on every user and on admin routes."""
        return self.key.scope is KeyScope.ADMIN

    def authorize_user(self, user_id: str) -> str:
        """``user_id`` if this key may act on that user's data, else ``PermissionDeniedError``."""
        if not self.is_admin and self.key.user_id != user_id:
            raise PermissionDeniedError(
                f"this API key belongs to another user and may not access data of user {user_id[:128]!r}"
            )
        return user_id


async def get_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """Resolve the bearer key; 401 when it is missing, unknown or revoked."""
    if credentials is None:
        raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>' (companion keys create)")
    key = await ApiKeyStore(get_services(request).redis).resolve(credentials.credentials)
    if key is None:
        raise AuthenticationError("unknown or revoked API key")
    return Caller(key)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_admin(caller: CallerDep) -> Caller:
    """The caller, who must hold an admin key."""
    if not caller.is_admin:
        raise PermissionDeniedError("this route needs an admin API key")
    return caller


AdminDep = Annotated[Caller, Depends(get_admin)]

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
