"""Reading a profile file (TOML, schema ``xtalk.profile/1``) into a validated ``WireProfile``.

``read_profile(path)`` parses and validates; every mistake (missing file, bad TOML, unknown key,
wrong type, unknown placeholder, an auth strategy without its endpoint, an unknown event kind) is
a ``UsageError`` that names the file and the key path, says what was expected and how to fix it.
``docs/PROFILES.md`` documents every key; the shipped profiles (``netra.toml``, ``chainlit.toml``
beside this module) are worked examples.

Paths to a field are written as a dotted string (``"data.message.id"``) or as a list of keys
(``["data", "message.id"]`` when a key holds a dot). Where a key takes several paths (the first
that holds a value wins) it takes a list of those; a single path may be written alone.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any, cast

from xtalk.core.profile import Condition, EventKind, Fingerprint, Path, PhaseRule, Profile
from xtalk.errors import UsageError
from xtalk.profiles.model import (
    PLACEHOLDERS,
    AuthSpec,
    Endpoint,
    FirstMessage,
    RequestKind,
    ThreadSpec,
    Transport,
    WireProfile,
)
from xtalk.profiles.template import names_in, path_of
from xtalk.scenario.fields import Table, closest, show

SCHEMA = "xtalk.profile/1"

TOP = ("schema", "name", "description", "reference_backend", "transport", "auth", "thread", "request", "events")
TRANSPORT = ("kind", "path", "query", "engine_param", "engines", "default_engines", "subprotocols", "headers",
             "namespace", "connect", "after_connect", "before_close")
AUTH = ("strategies", "token", "identity", "cookie", "login", "register", "bypass", "refresh", "first_message",
        "mint")
ENDPOINT = ("path", "body", "fields", "header")
REQUEST = ("default", "kinds", "text", "echo", "types", "spoof_user_id")
ID_KEYS = ("run_id", "user_id", "thread_id", "agent_name", "tool_name", "tool_call_id", "step_id", "parent_id",
           "welcome_user_id", "welcome_mode")
EVENTS = ("type", "search", *ID_KEYS, "types", "wrappers", "batches", "rules", "fingerprints", "refusal",
          "ignore_for_dedup", "retry_field", "stamp_field", "short_id_suffix", "short_id_length")
OPS = ("present", "absent", "eq", "ne", "startswith", "not_startswith", "is_dict")
KINDS = tuple(kind.value for kind in EventKind)

#: Which scenario auth strategies exist, and which endpoint each needs.
STRATEGY_NEEDS: dict[str, tuple[str, ...]] = {
    "register": ("register", "login"),
    "login": ("login",),
    "csv": ("login",),
    "e2e_bypass": ("bypass",),
    "mint_jwt": ("mint",),
}

_CONNECTION = {"user", "account", "session", "token", "now", "thread"}
ALLOWED: dict[str, set[str]] = {
    "request": {"text", "marker", "thread", "message_id", "user", "account", "session", "now"},
    "transport": _CONNECTION,
    "first_message": _CONNECTION,
    "endpoint": {"account", "account_name", "user", "password", "refresh_token", "now"},
    "mint": {"account", "account_name", "user", "issuer", "audience"},
    "thread": {"user", "account", "now"},
}


def read_profile(path: str) -> WireProfile:
    """The validated profile in the TOML file at ``path``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except IsADirectoryError:
        raise UsageError("a profile file (.toml)", f"{path} (a folder)", "name the .toml file itself") from None
    except OSError as error:
        raise UsageError("a readable profile file", f"{path} ({error.strerror})",
                         "check the path; `xtalk profiles` lists the shipped profiles") from None
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise UsageError("a UTF-8 TOML profile file", f"{path} has a non-UTF-8 byte at offset {error.start}",
                         "save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError("a valid TOML profile file", f"{error} in {path}",
                         "fix the TOML syntax there; docs/PROFILES.md shows every section") from None
    return build_profile(doc, source=path)


def build_profile(doc: Mapping[str, Any], *, source: str) -> WireProfile:
    """Validate a parsed profile document."""
    top = Table(doc, source=source, path="", known=TOP)
    schema = top.get_str("schema", SCHEMA)
    if schema != SCHEMA:
        raise top.error("schema", f'to be "{SCHEMA}"', schema, f'"{SCHEMA}"')
    name = cast(str, top.check_str("name", top.require("name", '"mybackend"'), nonempty=True))
    description = cast(str, top.get_str("description", ""))
    reference = top.get_bool("reference_backend", False)
    events = Table(top.get_table("events"), source=source, path="events", known=EVENTS)
    type_path = _paths(events, "type", ["type"])
    search = _paths(events, "search", [""])
    transport = _transport(Table(top.get_table("transport"), source=source, path="transport", known=TRANSPORT))
    auth = _auth(Table(top.get_table("auth"), source=source, path="auth", known=AUTH))
    thread = _thread(top)
    request = Table(top.get_table("request"), source=source, path="request", known=REQUEST)
    kinds = _kinds(request, type_path)
    spoof = _one_path(request, "spoof_user_id")
    core = _core(events, request, name, type_path, search, kinds)
    request.finish()
    top.finish()
    return WireProfile(name=name, core=core, source=source, description=description, transport=transport,
                       auth=auth, thread=thread, requests=kinds, spoof_user_id=spoof, reference_backend=reference)


# -- paths ---------------------------------------------------------------------------------


def _path(table: Table, key: str, item: object) -> Path:
    if isinstance(item, str):
        return tuple(part for part in item.split(".") if part) if item else ()
    if isinstance(item, list) and all(isinstance(part, str) and part for part in item):
        return tuple(cast(list[str], item))
    raise table.error(key, "to name fields by dotted strings or lists of keys", item,
                      '"data.message.id" (or ["data", "message.id"] when a key holds a dot)')


def _paths(table: Table, key: str, default: Sequence[object] | None = None) -> tuple[Path, ...]:
    value = table.raw(key, None)
    if value is None:
        value = list(default or [])
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise table.error(key, "to be a path or a list of paths", value, '"data.id" or ["data.id", "id"]')
    return tuple(_path(table, key, item) for item in items)


def _one_path(table: Table, key: str) -> Path | None:
    value = table.raw(key, None)
    if value is None:
        return None
    path = _path(table, key, value)
    if not path:
        raise table.error(key, "to name a field", value, '"payload.user_id"')
    return path


def _ids(table: Table, key: str, search: tuple[Path, ...]) -> tuple[Path, ...]:
    """An id's paths: a table ``{field = "run_id"}`` looks for that field under every prefix of
    ``events.search``; otherwise a path or a list of paths."""
    value = table.raw(key, None)
    if isinstance(value, Mapping):
        sub = Table(value, source=table.source, path=table.key_path(key), known=("field",))
        field = cast(str, sub.check_str("field", sub.require("field", '"run_id"'), nonempty=True))
        return tuple(prefix + (field,) for prefix in search)
    return _paths(table, key)


# -- [transport] ---------------------------------------------------------------------------


def _strings(table: Table, key: str) -> tuple[str, ...]:
    items = table.get_list(key, [])
    for item in cast(list[object], items):
        if not isinstance(item, str) or not item:
            raise table.error(key, "to be a list of non-empty strings", items, '["main", "isolated"]')
    return tuple(cast(list[str], items))


def _string_table(table: Table, key: str, context: str) -> tuple[tuple[str, str], ...]:
    sub = table.get_table(key)
    pairs: list[tuple[str, str]] = []
    for name, value in sub.items():
        if not isinstance(value, str):
            raise table.error(f"{key}.{name}", "to be a string", value, '"value" (templates allowed)')
        _placeholders(table, f"{key}.{name}", value, context)
        pairs.append((name, value))
    return tuple(pairs)


def _placeholders(table: Table, key: str, template: object, context: str) -> None:
    allowed = ALLOWED[context]
    for name in sorted(names_in(template)):
        if name not in allowed:
            known = ", ".join("{" + n + "}" for n in sorted(allowed))
            what = f" ({PLACEHOLDERS[name]})" if name in PLACEHOLDERS else ""
            raise UsageError(f"{table.key_path(key)} to use only the placeholders {known}",
                             f"{{{name}}}{what} in {table.source}",
                             f"remove {{{name}}} or write {{{{{name}}}}} for literal braces; docs/PROFILES.md "
                             "lists each placeholder and where it may stand")


def _frames(table: Table, key: str, context: str) -> tuple[Any, ...]:
    items = table.get_list(key, [])
    for item in cast(list[object], items):
        if not isinstance(item, Mapping):
            raise table.error(key, "to be a list of frames (tables)", items, '[{ event = "hello" }]')
        _placeholders(table, key, item, context)
    return tuple(items)  # type: ignore[arg-type]


def _transport(table: Table) -> Transport:
    kind = cast(str, table.get_str("kind", "json", choices=("json", "socketio")))
    path = cast(str, table.get_str("path", "/ws" if kind == "json" else "/socket.io/", nonempty=True))
    if not path.startswith("/"):
        raise table.error("path", 'to start with "/"', path, '"/ws"')
    engines = _strings(table, "engines")
    default_engines = _strings(table, "default_engines")
    for engine in default_engines:
        if engine not in engines:
            raise table.error("default_engines", "to list only paths of transport.engines", list(default_engines),
                              f"a subset of {list(engines)}")
    engine_param = table.get_str("engine_param", None, nonempty=True)
    if engines and engine_param is None:
        raise table.error("engine_param", "to name the query parameter that selects an engine path "
                          "(transport.engines is set)", None, '"mode"')
    connect = table.raw("connect", None)
    if connect is not None:
        if kind != "socketio":
            raise table.error("connect", 'only with kind = "socketio"', connect, "",
                              fix=f"remove connect from [transport] in {table.source}")
        if not isinstance(connect, Mapping):
            raise table.error("connect", "to be a table (the CONNECT packet's payload)", connect,
                              '{ sessionId = "{session}" }')
        _placeholders(table, "connect", connect, "transport")
    namespace = cast(str, table.get_str("namespace", "/", nonempty=True))
    if not namespace.startswith("/"):
        raise table.error("namespace", 'to start with "/"', namespace, '"/"')
    subprotocols = _strings(table, "subprotocols")
    for item in subprotocols:
        _placeholders(table, "subprotocols", item, "transport")
    result = Transport(
        kind=kind,  # type: ignore[arg-type]
        path=path,
        query=_string_table(table, "query", "transport"),
        engine_param=engine_param,
        engines=engines,
        default_engines=default_engines,
        subprotocols=subprotocols,
        headers=_string_table(table, "headers", "transport"),
        namespace=namespace,
        connect=connect,
        after_connect=_frames(table, "after_connect", "transport"),
        before_close=_frames(table, "before_close", "transport"),
    )
    table.finish()
    return result


# -- [auth] --------------------------------------------------------------------------------


def _endpoint(parent: Table, key: str) -> Endpoint | None:
    if not parent.has(key):
        return None
    table = Table(parent.get_table(key), source=parent.source, path=parent.key_path(key), known=ENDPOINT)
    path = cast(str, table.check_str("path", table.require("path", '"/auth/login"'), nonempty=True))
    if not path.startswith("/"):
        raise table.error("path", 'to start with "/"', path, '"/auth/login"')
    body = cast(str, table.get_str("body", "json", choices=("json", "form")))
    fields = table.raw("fields", None)
    if fields is not None and not isinstance(fields, Mapping):
        raise table.error("fields", "to be a table (the request body)", fields,
                          '{ email = "{account}", password = "{password}" }')
    if body == "form" and isinstance(fields, Mapping):
        for name, value in fields.items():
            if not isinstance(value, str):
                raise table.error(f"fields.{name}", 'to be a string (body = "form" sends text fields)', value,
                                  '"{account}"')
    _placeholders(table, "fields", fields, "endpoint")
    header = table.get_str("header", None, nonempty=True)
    table.finish()
    return Endpoint(path=path, body=body, fields=fields, header=header)  # type: ignore[arg-type]


def _conditions(table: Table, key: str, search: tuple[Path, ...] = ((),)) -> tuple[Condition, ...]:
    items = table.get_list(key, [])
    conditions: list[Condition] = []
    for i, item in enumerate(cast(list[object], items), start=1):
        if not isinstance(item, Mapping):
            raise table.error(key, "to be a list of conditions (tables)", items,
                              '[{ path = "data.type", op = "eq", value = "run" }]')
        sub = Table(item, source=table.source, path=f"{table.key_path(key)}[{i}]",
                    known=("path", "field", "op", "value"))
        if sub.has("path") == sub.has("field"):
            raise UsageError(f"{sub.path} to have exactly one of path and field", f"{show(dict(item))} in "
                             f"{table.source}", 'write path = "data.type" (or field = "engine_id", looked for '
                             "under every prefix of events.search)")
        if sub.has("field"):
            field = cast(str, sub.check_str("field", sub.raw("field"), nonempty=True))
            paths = tuple(prefix + (field,) for prefix in search)
        else:
            paths = _paths(sub, "path")
        op = cast(str, sub.get_str("op", "present", choices=OPS))
        value = sub.raw("value", None)
        if op in ("eq", "ne", "startswith", "not_startswith") and not sub.has("value"):
            raise UsageError(f'{sub.path}.value for op = "{op}"', f"no value in {table.source}",
                             'add value = "..." to the condition')
        if op in ("startswith", "not_startswith") and not isinstance(value, str):
            raise sub.error("value", f'to be a string for op = "{op}"', value, '"prefix"')
        sub.finish()
        conditions.append(Condition(paths, op, value))  # type: ignore[arg-type]
    return tuple(conditions)


def _auth(table: Table) -> AuthSpec:
    strategies = _strings(table, "strategies") or ("register",)
    for strategy in strategies:
        if strategy not in STRATEGY_NEEDS:
            guess = closest(strategy, STRATEGY_NEEDS)
            raise UsageError("auth.strategies to name scenario auth strategies",
                             f"{show(strategy)} in {table.source}",
                             (f'did you mean "{guess}"? ' if guess else "") + "known: " + ", ".join(STRATEGY_NEEDS))
    endpoints = {key: _endpoint(table, key) for key in ("login", "register", "bypass", "refresh")}
    if endpoints["bypass"] is not None and endpoints["bypass"].header is None:
        raise UsageError("auth.bypass.header (the header that carries the bypass key)",
                         f"none in {table.source}", 'add header = "X-E2E-Bypass-Key" to [auth.bypass]')
    token = Table(table.get_table("token"), source=table.source, path="auth.token",
                  known=("from", "name", "refresh", "expires_in"))
    token_from = cast(str, token.get_str("from", "json", choices=("json", "cookie")))
    token_field = cast(str, token.get_str("name", "access_token", nonempty=True))
    refresh_field = token.get_str("refresh", None, nonempty=True)
    expires_field = token.get_str("expires_in", None, nonempty=True)
    token.finish()
    identity = Table(table.get_table("identity"), source=table.source, path="auth.identity",
                     known=("claim", "json"))
    claim = identity.get_str("claim", "sub" if not identity.has("json") else None, nonempty=True)
    identity_json = _paths(identity, "json")
    identity.finish()
    cookie = table.get_bool("cookie", token_from == "cookie")
    first = None
    if table.has("first_message"):
        sub = Table(table.get_table("first_message"), source=table.source, path="auth.first_message",
                    known=("frame", "accepted", "refused"))
        frame = sub.require("frame", '{ type = "auth", token = "{token}" }')
        if not isinstance(frame, Mapping):
            raise sub.error("frame", "to be a table (the frame sent)", frame, '{ type = "auth", token = "{token}" }')
        _placeholders(sub, "frame", frame, "first_message")
        accepted = _conditions(sub, "accepted")
        if not accepted:
            raise UsageError("auth.first_message.accepted (conditions on the server's answer)",
                             f"none in {table.source}", 'add accepted = [{ path = "type", op = "eq", value = "auth_ok" }]')
        first = FirstMessage(frame=frame, accepted=accepted, refused=_conditions(sub, "refused"))
        sub.finish()
    mint_claims = mint_audience = mint_issuer = None
    if table.has("mint"):
        sub = Table(table.get_table("mint"), source=table.source, path="auth.mint", known=("claims", "audience", "issuer"))
        mint_claims = sub.require("claims", '{ sub = "{account_name}", email = "{account}" }')
        if not isinstance(mint_claims, Mapping):
            raise sub.error("claims", "to be a table (the token's claims)", mint_claims, '{ sub = "{account_name}" }')
        _placeholders(sub, "claims", mint_claims, "mint")
        mint_audience = sub.get_str("audience", None)
        mint_issuer = sub.get_str("issuer", None)
        sub.finish()
    present = {"login": endpoints["login"], "register": endpoints["register"], "bypass": endpoints["bypass"],
               "mint": mint_claims}
    for strategy in strategies:
        for need in STRATEGY_NEEDS[strategy]:
            if present[need] is None:
                raise UsageError(f"[auth.{need}] for the auth strategy {strategy!r} that auth.strategies lists",
                                 f"no [auth.{need}] in {table.source}",
                                 f"add [auth.{need}] (docs/PROFILES.md, section [auth]) or drop {strategy!r} "
                                 "from auth.strategies")
    table.finish()
    return AuthSpec(
        strategies=strategies, login=endpoints["login"], register=endpoints["register"], bypass=endpoints["bypass"],
        refresh=endpoints["refresh"], token_from=token_from, token_field=token_field,  # type: ignore[arg-type]
        refresh_field=refresh_field, expires_field=expires_field, identity_claim=claim,
        identity_json=identity_json, cookie=cookie, first_message=first, mint_claims=mint_claims,
        mint_audience=mint_audience, mint_issuer=mint_issuer,
    )


def _thread(top: Table) -> ThreadSpec | None:
    if not top.has("thread"):
        return None
    table = Table(top.get_table("thread"), source=top.source, path="thread", known=("path", "body", "id"))
    path = cast(str, table.check_str("path", table.require("path", '"/api/threads"'), nonempty=True))
    body = table.raw("body", None)
    if body is not None and not isinstance(body, Mapping):
        raise table.error("body", "to be a table (the JSON body)", body, '{ title = "xtalk {user}" }')
    _placeholders(table, "body", body, "thread")
    ids = _paths(table, "id", ["id"])
    table.finish()
    return ThreadSpec(path=path, body=body, id=ids)


# -- [request] -----------------------------------------------------------------------------


def _kinds(request: Table, type_path: tuple[Path, ...]) -> tuple[RequestKind, ...]:
    kinds_table = request.get_table("kinds")
    if not kinds_table:
        raise UsageError("[request.kinds.NAME] with the frame that sends a user's text",
                         f"no request kinds in {request.source}",
                         'add [request.kinds.ask] with frame = { type = "chat", text = "{text}" }')
    kinds: list[RequestKind] = []
    for name, value in kinds_table.items():
        sub = Table(value if isinstance(value, Mapping) else {}, source=request.source,
                    path=f"request.kinds.{name}", known=("frame",))
        if not isinstance(value, Mapping):
            raise request.error(f"kinds.{name}", "to be a table with frame = {...}", value,
                                '{ frame = { type = "chat", text = "{text}" } }')
        frame = sub.require("frame", '{ type = "chat", text = "{text}" }')
        if not isinstance(frame, Mapping):
            raise sub.error("frame", "to be a table (the frame sent)", frame, '{ type = "chat", text = "{text}" }')
        _placeholders(sub, "frame", frame, "request")
        text = path_of(frame, "text")
        if text is None:
            raise UsageError(f"request.kinds.{name}.frame to carry the request's text",
                             f'no "{{text}}" in it in {request.source}',
                             'put "{text}" where the user\'s message goes (the content marker travels in it)')
        if not any(_at(frame, path) is not None for path in type_path):
            raise UsageError(f"request.kinds.{name}.frame to name its type where events.type says",
                             f"none of {[_dotted(p) for p in type_path]} in it in {request.source}",
                             "add the type field, or fix events.type")
        sub.finish()
        kinds.append(RequestKind(name=name, frame=frame, thread=path_of(frame, "thread"),
                                 echo=path_of(frame, "message_id")))
    default = request.get_str("default", kinds[0].name, choices=tuple(k.name for k in kinds))
    kinds.sort(key=lambda k: k.name != default)  # the default first
    return tuple(kinds)


def _at(frame: Any, path: Path) -> Any:
    node = frame
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _dotted(path: Path) -> str:
    return ".".join(path)


# -- [events] ------------------------------------------------------------------------------


def _kind(table: Table, key: str, value: object) -> EventKind:
    if not isinstance(value, str) or value not in KINDS:
        guess = closest(value, KINDS) if isinstance(value, str) else None
        raise UsageError(f"{table.key_path(key)} to name an event kind", table.found(key, value),
                         (f'did you mean "{guess}"? ' if guess else "") + "kinds: " + ", ".join(KINDS))
    return EventKind(value)


def _core(events: Table, request: Table, name: str, type_path: tuple[Path, ...], search: tuple[Path, ...],
          kinds: tuple[RequestKind, ...]) -> Profile:
    types: dict[str, EventKind] = {}
    canonical: dict[str, str] = {}
    types_table = Table(events.get_table("types"), source=events.source, path="events.types", known=(),
                        check_keys=False)
    for type_name, value in types_table.data.items():
        if isinstance(value, Mapping):
            sub = Table(value, source=events.source, path=f"events.types.{type_name}", known=("kind", "name"))
            types[type_name] = _kind(sub, "kind", sub.require("kind", '"agent_started"'))
            shown = sub.get_str("name", None, nonempty=True)
            if shown is not None:
                canonical[type_name] = shown
            sub.finish()
        else:
            types[type_name] = _kind(types_table, type_name, value)
    rules: list[PhaseRule] = []
    for i, item in enumerate(events.get_tables("rules"), start=1):
        sub = Table(item, source=events.source, path=f"events.rules[{i}]", known=("type", "kind", "when", "name"))
        rule_type = cast(str, sub.check_str("type", sub.require("type", '"new_message"'), nonempty=True))
        rules.append(PhaseRule(rule_type, _kind(sub, "kind", sub.require("kind", '"agent_started"')),
                               _conditions(sub, "when", search), sub.get_str("name", None, nonempty=True)))
        sub.finish()
    fingerprints: list[Fingerprint] = []
    for i, item in enumerate(events.get_tables("fingerprints"), start=1):
        sub = Table(item, source=events.source, path=f"events.fingerprints[{i}]", known=("group", "name", "when"))
        group = cast(str, sub.check_str("group", sub.require("group", '"engine"'), nonempty=True))
        shown_name = cast(str, sub.check_str("name", sub.require("name", '"path_a"'), nonempty=True))
        fingerprints.append(Fingerprint(group, shown_name, _conditions(sub, "when", search)))
        sub.finish()
    wrappers: dict[str, Path] = {}
    for type_name, value in events.get_table("wrappers").items():
        wrappers[type_name] = _path(events, f"wrappers.{type_name}", value)
    batches: dict[str, str] = {}
    for type_name, value in events.get_table("batches").items():
        if not isinstance(value, str) or not value:
            raise events.error(f"batches.{type_name}", "to name the field that holds the events", value, '"events"')
        batches[type_name] = value
    ids = {key: _ids(events, key, search) for key in ID_KEYS}
    text = list(_paths(request, "text"))
    echo = list(_paths(request, "echo"))
    for kind in kinds:  # where the templates put the text and the echoed id, unless listed already
        if kind_path := path_of(kind.frame, "text"):
            if kind_path not in text:
                text.append(kind_path)
        if kind.echo is not None and kind.echo not in echo:
            echo.append(kind.echo)
    request_types = {str(t) for t in _strings(request, "types")}
    for kind in kinds:
        for path in type_path:
            value = _at(kind.frame, path)
            if isinstance(value, str):
                request_types.add(value)
                break
    ignore = _strings(events, "ignore_for_dedup")
    core = Profile(
        name=name, types=types, canonical=canonical, wrappers=wrappers, batches=batches,
        run_id=ids["run_id"], user_id=ids["user_id"], thread_id=ids["thread_id"], agent_name=ids["agent_name"],
        tool_name=ids["tool_name"], tool_call_id=ids["tool_call_id"], welcome_user_id=ids["welcome_user_id"],
        welcome_mode=ids["welcome_mode"], ignore_for_dedup=frozenset(ignore), fingerprints=tuple(fingerprints),
        request_text=tuple(text), request_types=frozenset(request_types),
        retry_field=cast(str, events.get_str("retry_field", "attempt", nonempty=True)),
        stamp_field=cast(str, events.get_str("stamp_field", "timestamp", nonempty=True)),
        short_id_suffix=cast(str, events.get_str("short_id_suffix", "...")),
        short_id_length=cast(int, events.get_int("short_id_length", 8, minimum=1)),
        type_path=type_path, rules=tuple(rules), step_id=ids["step_id"], parent_id=ids["parent_id"],
        request_echo=tuple(echo), refusal=_conditions(events, "refusal", search),
    )
    events.finish()
    return core


def profile_dir() -> str:
    """The folder of the shipped profile files."""
    return os.path.dirname(os.path.abspath(__file__))
