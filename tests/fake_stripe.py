"""A fake Stripe API for tests: Checkout Sessions, PaymentIntents, Charges, Refunds, Disputes.

A small WSGI app served on 127.0.0.1 in a daemon thread, speaking Stripe's wire format as the
API reference (https://docs.stripe.com/api) describes it, so the project's real
``stripe.StripeClient(api_key, base_addresses={"api": fake.base_url})`` talks to it over HTTP
and api.stripe.com is never contacted:

* form-encoded bracket parameters in, JSON out; every parameter name is checked against
  stripe-python's own TypedDicts (``stripe.params...``), so a misspelt or invented parameter
  fails here as it would at Stripe ("Received unknown parameter: line_items[0][foo]");
* errors shaped ``{"error": {"type", "message", "param", "code"}}`` with Stripe's statuses
  (400 invalid request, 401 bad key, 404 resource_missing, 5xx api_error), which stripe-python
  turns into InvalidRequestError, AuthenticationError, APIError, IdempotencyError;
* ``Idempotency-Key`` replay, ``expand[]``, a request log.

The test drives the rest of the world with plain methods: ``pay`` (the buyer completes
Checkout), ``succeed_async``/``fail_async``, ``expire``, ``refund``, ``open_dispute``,
``close_dispute``, and builds signed webhooks with ``event`` and ``sign``. A Checkout Session's
``url`` is Stripe's real hosted-page address (``https://checkout.stripe.com/c/pay/<id>``, from
``hosted_base``), which nothing on this machine serves: browser tests route it to a stand-in
(tests/browser/stripe_hosted.py).

Faults, for the paths where Stripe is slow or the network fails (``reset`` clears them all):

* ``fail_next``: answer a 5xx ``api_error``;
* ``hang_next``: answer only after some seconds (the client's timeout fires first);
* ``drop_next``: close the connection without any HTTP answer;
* ``hold``: keep the request waiting until the test releases its gate, to order it against
  other events exactly;
* with ``after_handling=True``, ``hang_next`` and ``drop_next`` do the work first and then lose
  the answer: the object exists at "Stripe" though the client saw only an error.

Waiting never happens under the fake's lock, so other calls are served while one hangs.
Fixtures: ``fake_stripe_server`` (session) and ``fake_stripe`` (reset per test).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
import re
import secrets
import socket
import string
import sys
import threading
import time
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, Literal, NotRequired, Required

import pytest
import stripe
from stripe._request_options import RequestOptions
from stripe.params import (
    ChargeRetrieveParams,
    DisputeRetrieveParams,
    PaymentIntentRetrieveParams,
    RefundCreateParams,
    RefundRetrieveParams,
)
from stripe.params.checkout import (
    SessionCreateParams,
    SessionExpireParams,
    SessionListParams,
    SessionRetrieveParams,
)
from typing_extensions import is_typeddict
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

DAY = 24 * 3600


class FakeStripeError(ValueError):
    """A Stripe API error: raised inside the fake, answered as Stripe's error JSON."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type: str = "invalid_request_error", replayable: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type, "message": message, "param": param, "code": code}}
        #: False for parameter validation errors, which Stripe does not save under an idempotency key
        self.replayable = replayable


def _invalid(message: str, param: str | None = None, code: str | None = None) -> FakeStripeError:
    return FakeStripeError(400, message, param=param, code=code, replayable=False)


def _new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


# ---------------------------------------------------------------- parameter schemas from stripe.params


@dataclass(eq=False)
class _Node:
    """What a parameter may hold, built from stripe-python's TypedDict annotations."""

    fields: dict[str, _Node] | None = None  # a TypedDict: its keys
    required: frozenset[str] = frozenset()
    item: _Node | None = None  # a List: its items
    values: _Node | None = None  # a Dict (metadata): its values
    scalars: set[type] = field(default_factory=set)  # str, int, bool, Decimal, ...
    empty_ok: bool = False  # Literal[''] is allowed: "" unsets the parameter

    def merge(self, other: _Node) -> None:
        if self.fields is None and other.fields is not None:
            self.fields, self.required = other.fields, other.required
        self.item = self.item or other.item
        self.values = self.values or other.values
        self.scalars |= other.scalars
        self.empty_ok |= other.empty_ok


_OPTION_KEYS = frozenset(RequestOptions.__annotations__)  # api_key, idempotency_key, ...: not sent
_typed_dicts: dict[type, _Node] = {}


def _schema(tp: Any, ns: dict[str, Any]) -> _Node:
    if isinstance(tp, typing.ForwardRef):
        tp = tp.__forward_arg__
    if isinstance(tp, str):
        tp = eval(tp, ns)  # noqa: S307 - stripe-python's own annotations, e.g. "Dict[str, str]|..."
    if is_typeddict(tp):
        return _typed_dict(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (NotRequired, Required):
        return _schema(args[0], ns)
    if origin in (typing.Union, types.UnionType):
        node = _Node()
        for alternative in args:
            node.merge(_schema(alternative, ns))
        return node
    if origin is Literal:
        return _Node(scalars={type(a) for a in args}, empty_ok="" in args)
    if origin is list:
        return _Node(item=_schema(args[0], ns))
    if origin is not None:  # Dict[str, X], UntypedStripeObject[X]: a map of X
        return _Node(values=_schema(args[-1], ns))
    if tp is type(None):
        return _Node()
    return _Node(scalars={tp})


def _typed_dict(cls: type) -> _Node:
    if cls not in _typed_dicts:
        node = _typed_dicts[cls] = _Node(fields={})  # registered first: TypedDicts may nest
        ns = vars(sys.modules[cls.__module__])
        skip = _OPTION_KEYS if cls.__annotations__.keys() >= _OPTION_KEYS else frozenset()
        assert node.fields is not None
        for name, annotation in cls.__annotations__.items():
            if name not in skip:
                node.fields[name] = _schema(annotation, ns)
        node.required = frozenset(cls.__required_keys__) - skip  # type: ignore[attr-defined]
    return _typed_dicts[cls]


def _validate(value: Any, node: _Node, name: str) -> Any:
    """Check parameter names (recursively) and turn form strings into ints and bools."""
    if isinstance(value, list) and node.item is None and (node.fields is not None or node.values is not None):
        value = {str(i): v for i, v in enumerate(value)}  # metadata[0]=x was read as a list
    if isinstance(value, dict):
        if node.fields is not None:
            checked = {}
            for key, sub in value.items():
                path = f"{name}[{key}]" if name else key
                if key not in node.fields:
                    raise _invalid(f"Received unknown parameter: {path}", path, "parameter_unknown")
                checked[key] = _validate(sub, node.fields[key], path)
            for key in sorted(node.required - value.keys()):
                path = f"{name}[{key}]" if name else key
                raise _invalid(f"Missing required param: {path}.", path, "parameter_missing")
            return checked
        if node.values is not None:  # "" unsets one metadata key
            return {k: _validate(v, node.values, f"{name}[{k}]") for k, v in value.items() if v != ""}
        raise _invalid(f"Invalid {_kind(node)}", name, "parameter_invalid")
    if isinstance(value, list):
        if node.item is None:
            raise _invalid(f"Invalid {_kind(node)}", name, "parameter_invalid")
        return [_validate(v, node.item, f"{name}[{i}]") for i, v in enumerate(value)]
    if value == "":
        if node.empty_ok:
            return ""
        raise _invalid(
            f"You passed an empty string for '{name}'. We assume empty values are an attempt to unset a "
            f"parameter; however '{name}' cannot be unset. You should remove '{name}' from your request "
            "or supply a non-empty value.", name, "parameter_invalid_empty")
    if not node.scalars:
        raise _invalid(f"Invalid {_kind(node)}", name, "parameter_invalid")
    if bool in node.scalars and str not in node.scalars:
        if value not in ("true", "false"):
            raise _invalid(f"Invalid boolean: {value}", name, "parameter_invalid_boolean")
        return value == "true"
    if int in node.scalars and str not in node.scalars:
        if not re.fullmatch(r"-?\d+", value):
            raise _invalid(f"Invalid integer: {value}", name, "parameter_invalid_integer")
        return int(value)
    if Decimal in node.scalars or float in node.scalars:
        try:
            Decimal(value)
        except InvalidOperation:
            raise _invalid(f"Invalid decimal: {value}", name, "parameter_invalid_decimal") from None
    return value


def _kind(node: _Node) -> str:
    if node.fields is not None or node.values is not None:
        return "object"
    return "array" if node.item is not None else "string"


def _decode(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``line_items[0][price_data][unit_amount]=5000`` -> nested dicts and lists of strings."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, bracket, rest = key.partition("[")
        parts = [head, *re.findall(r"\[([^\[\]]*)\]", bracket + rest)]
        node = root
        for i, part in enumerate(parts):
            part = part or str(len(node))  # expand[]=x
            if i == len(parts) - 1:
                node[part] = value
            else:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise _invalid(f"Invalid object: {key}", key, "parameter_invalid")
    return {k: _listify(v) for k, v in root.items()}


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    value = {k: _listify(v) for k, v in value.items()}
    if value and sorted(value) == sorted(str(i) for i in range(len(value))):
        return [value[str(i)] for i in range(len(value))]
    return value


def _check_metadata(metadata: Any, name: str) -> dict[str, str]:
    if not metadata:
        return {}
    if len(metadata) > 50:
        raise _invalid(f"You can have up to 50 metadata keys, but you passed in {len(metadata)}.", name)
    for key, value in metadata.items():
        if len(key) > 40:
            raise _invalid("Metadata keys can have up to 40 characters, but you passed in a key that is "
                           f"{len(key)} characters long.", f"{name}[{key}]")
        if len(value) > 500:
            raise _invalid("Metadata values can have up to 500 characters, but you passed in a value that is "
                           f"{len(value)} characters long.", f"{name}[{key}]")
    return dict(metadata)


# ---------------------------------------------------------------- the fake


#: how long a held request waits for its gate before the fake gives up on the test
HOLD_TIMEOUT = 30.0


class Gate:
    """A request kept waiting by ``FakeStripe.hold`` until the test calls ``release()``.

    ``arrived`` is set when the matching request reaches the fake, ``answered`` when the fake
    has answered it (or dropped it). A gate nobody releases lets go by itself after
    ``timeout`` seconds, answering a 500 ``api_error`` that names the forgotten gate."""

    def __init__(self, method: str, path_prefix: str, timeout: float = HOLD_TIMEOUT) -> None:
        self.method, self.path_prefix, self.timeout = method, path_prefix, timeout
        self.arrived = threading.Event()
        self.answered = threading.Event()
        self.timed_out = False
        self._go = threading.Event()
        self._cancelled = False  # released by reset(): the request is dropped, never handled

    def release(self) -> None:
        """Let the held request go on, to be handled normally."""
        self._go.set()

    def _cancel(self) -> None:
        self._cancelled = True
        self._go.set()

    def _wait(self) -> str:
        """Block the request's thread (not holding the fake's lock): "go", "cancel" or "timeout"."""
        if not self._go.wait(self.timeout):
            self.timed_out = True
            return "timeout"
        return "cancel" if self._cancelled else "go"

    def __repr__(self) -> str:
        return f"<Gate {self.method} {self.path_prefix} arrived={self.arrived.is_set()}>"


@dataclass(eq=False)
class _Fault:
    """One injected fault (hang, drop or hold) waiting for its next ``count`` matching requests."""

    kind: Literal["hang", "drop", "hold"]
    method: str
    path_prefix: str
    count: int = 1
    seconds: float = 0.0
    after_handling: bool = False
    gate: Gate | None = None
    #: set by reset(): a hang in progress stops waiting and drops its connection
    cancelled: threading.Event = field(default_factory=threading.Event)

    def matches(self, method: str, path: str) -> bool:
        return self.method == method and path.startswith(self.path_prefix)


class _Dropped(ConnectionAbortedError):
    """Raised out of the WSGI app after closing the socket: werkzeug treats a ConnectionError
    as a connection the client dropped, and neither answers nor logs anything."""


def _drop(environ: dict[str, Any]) -> typing.NoReturn:
    """Close the request's TCP connection without an HTTP answer (the client sees the server
    hang up: requests' ConnectionError, stripe.APIConnectionError)."""
    sock: socket.socket = environ["werkzeug.socket"]
    with contextlib.suppress(OSError):  # the client may have gone already
        sock.shutdown(socket.SHUT_RDWR)
    raise _Dropped("connection dropped by FakeStripe (drop_next / reset)")


class _QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: nothing left open at shutdown

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


_EXPANDABLE = {
    "checkout.session": {"payment_intent", "invoice", "customer"},
    "payment_intent": {"latest_charge", "customer"},
    "charge": {"payment_intent", "customer"},
    "refund": {"charge", "payment_intent"},
    "dispute": {"charge", "payment_intent"},
}


class FakeStripe:
    """In-memory Stripe behind a real HTTP server; see the module docstring."""

    def __init__(self) -> None:
        self.api_key = "sk_test_fake" + secrets.token_hex(12)
        #: where Checkout Sessions say the buyer pays (Stripe's hosted page); reset() restores it
        self.hosted_base = "https://checkout.stripe.com"
        self.webhook_secret = "whsec_" + secrets.token_hex(16)
        self.base_url = ""
        self.sessions: dict[str, dict[str, Any]] = {}
        self.session_params: dict[str, dict[str, Any]] = {}  # session id -> the params it was created with
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self._idempotent: dict[str, tuple[Any, int, str]] = {}
        self._failures: list[list[Any]] = []
        self._faults: list[_Fault] = []  # hang, drop and hold, in the order they were asked for
        self._in_flight: set[_Fault] = set()  # faults whose request is waiting right now
        self._lock = threading.RLock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        get = self._retrieve
        self._routes = [
            ("POST", r"/v1/checkout/sessions", SessionCreateParams, self._create_session),
            ("GET", r"/v1/checkout/sessions", SessionListParams, self._list_sessions),
            ("GET", r"/v1/checkout/sessions/(?P<session>[^/]+)", SessionRetrieveParams,
             partial(get, self.sessions, "checkout.session")),
            ("POST", r"/v1/checkout/sessions/(?P<session>[^/]+)/expire", SessionExpireParams, self._post_expire),
            ("GET", r"/v1/payment_intents/(?P<intent>[^/]+)", PaymentIntentRetrieveParams,
             partial(get, self.payment_intents, "payment_intent")),
            ("GET", r"/v1/charges/(?P<charge>[^/]+)", ChargeRetrieveParams, partial(get, self.charges, "charge")),
            ("GET", r"/v1/disputes/(?P<dispute>[^/]+)", DisputeRetrieveParams, partial(get, self.disputes, "dispute")),
            ("GET", r"/v1/refunds/(?P<refund>[^/]+)", RefundRetrieveParams, partial(get, self.refunds, "refund")),
            ("POST", r"/v1/refunds", RefundCreateParams, self._post_refund),
        ]

    # ------------------------------------------------------------ server lifecycle

    def start(self) -> FakeStripe:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-stripe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None

    def reset(self) -> None:
        with self._lock:
            for store in (self.sessions, self.session_params, self.payment_intents, self.charges, self.refunds,
                          self.disputes, self._idempotent):
                store.clear()
            self.requests.clear()
            self._failures.clear()
            self.hosted_base = "https://checkout.stripe.com"
            # Requests waiting in a hang or at a gate stop waiting and are dropped unhandled,
            # so nothing from the last test lands in the next one's fresh state.
            for fault in [*self._faults, *self._in_flight]:
                fault.cancelled.set()
                if fault.gate is not None:
                    fault.gate._cancel()
            self._faults.clear()
            self._in_flight.clear()

    # ------------------------------------------------------------ HTTP

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        method, path, headers = request.method, request.path, dict(request.headers)
        try:
            params = _decode([*request.args.items(multi=True), *request.form.items(multi=True)])
            error = None
        except FakeStripeError as exc:
            params, error = {}, exc
        with self._lock:
            entry: dict[str, Any] = {"method": method, "path": path, "params": params, "headers": headers}
            self.requests.append(entry)
            fault = self._take_fault(method, path)
            if fault is not None:
                entry["fault"] = fault.kind
                self._in_flight.add(fault)
        try:
            if fault is not None and not fault.after_handling:
                self._before_handling(fault, environ)  # waits, outside the lock; may drop
            with self._lock:
                if fault is not None and fault.cancelled.is_set():
                    _drop(environ)  # reset() while it waited: never handled
                if fault is not None and fault.gate is not None and fault.gate.timed_out:
                    timed_out = FakeStripeError(500, f"FakeStripe.hold: {fault.gate!r} was never released "
                                                f"(waited {fault.gate.timeout:g} s).", type="api_error")
                    status, body, extra = 500, json.dumps(timed_out.body, indent=2), {"Stripe-Should-Retry": "false"}
                elif error is not None:
                    status, body, extra = error.status, json.dumps(error.body, indent=2), {}
                else:
                    status, body, extra = self._answer(method, path, params, headers)
            if fault is not None and fault.after_handling:
                # Stripe did the work; the answer is late or lost on the way back.
                if fault.kind == "hang":
                    fault.cancelled.wait(fault.seconds)
                if fault.kind == "drop" or fault.cancelled.is_set():
                    _drop(environ)
        finally:
            if fault is not None:
                with self._lock:
                    self._in_flight.discard(fault)
                if fault.gate is not None:
                    fault.gate.answered.set()
        response = Response(body, status, mimetype="application/json",
                            headers={"Request-Id": _new_id("req_", 14), "Stripe-Version": stripe.api_version, **extra})
        return response(environ, start_response)

    def _answer(self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
                ) -> tuple[int, str, dict[str, str]]:
        """Handle one request (under the lock), answering even a bug in the fake as Stripe would."""
        try:
            return self._handle(method, path, params, headers)
        except FakeStripeError as exc:
            return exc.status, json.dumps(exc.body, indent=2), {}
        except Exception as exc:  # noqa: BLE001 - a bug in the fake: still answer as Stripe would, naming it
            error = FakeStripeError(500, f"FakeStripe failed: {exc!r}", type="api_error")
            return 500, json.dumps(error.body, indent=2), {"Stripe-Should-Retry": "false"}

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        """The first hang, drop or hold waiting for this request (called under the lock)."""
        for fault in self._faults:
            if fault.matches(method, path):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _before_handling(fault: _Fault, environ: dict[str, Any]) -> None:
        """A fault that strikes before the request is handled (never under the lock)."""
        if fault.kind == "hold":
            assert fault.gate is not None
            fault.gate.arrived.set()
            if fault.gate._wait() == "cancel":
                _drop(environ)
        elif fault.kind == "hang":
            if fault.cancelled.wait(fault.seconds):
                _drop(environ)
        elif fault.kind == "drop":
            _drop(environ)

    def _handle(self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
                ) -> tuple[int, str, dict[str, str]]:
        failure = self._take_failure(method, path)
        if failure is not None:
            status, should_retry = failure
            error = FakeStripeError(status, "An unknown error occurred (injected by FakeStripe.fail_next).",
                                    type="api_error")
            extra = {} if should_retry is None else {"Stripe-Should-Retry": "true" if should_retry else "false"}
            return status, json.dumps(error.body), extra
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth.removeprefix("Bearer "):
            raise FakeStripeError(401, "You did not provide an API key. You need to provide your API key in the "
                                  "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                                  "YOUR_SECRET_KEY').")
        if auth != f"Bearer {self.api_key}":
            raise FakeStripeError(401, f"Invalid API Key provided: {auth[7:15]}*****{auth[-4:]}")
        for route_method, pattern, params_cls, handler in self._routes:  # noqa: B007 - used after the break
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                break
        else:
            raise FakeStripeError(404, f"Unrecognized request URL ({method}: {path}). Please see "
                                  "https://stripe.com/docs or we can help at https://support.stripe.com/.")
        key = headers.get("Idempotency-Key") if method == "POST" else None
        if key and key in self._idempotent:
            request, status, body = self._idempotent[key]
            if request != (method, path, params):
                raise FakeStripeError(
                    400, "Keys for idempotent requests can only be used with the same parameters they were "
                    f"first used with. Try using a key other than '{key}' if you meant to execute a different "
                    "request.", type="idempotency_error")
            return status, body, {"Idempotent-Replayed": "true"}
        try:
            checked = _validate(params, _typed_dict(params_cls), "")
            obj = handler(checked, **match.groupdict())
            status, body = 200, json.dumps(self._expand(obj, checked.get("expand") or []), indent=2)
        except FakeStripeError as exc:
            if not exc.replayable:
                raise
            status, body = exc.status, json.dumps(exc.body, indent=2)
        if key:
            self._idempotent[key] = ((method, path, params), status, body)
        return status, body, {}

    def _take_failure(self, method: str, path: str) -> tuple[int, bool | None] | None:
        for failure in self._failures:
            fail_method, prefix, status, _count, should_retry = failure
            if fail_method == method and path.startswith(prefix):
                failure[3] -= 1
                if failure[3] <= 0:
                    self._failures.remove(failure)
                return status, should_retry
        return None

    @staticmethod
    def _get(store: dict[str, dict[str, Any]], name: str, object_id: str, param: str | None) -> dict[str, Any]:
        if object_id not in store:
            raise FakeStripeError(404, f"No such {name}: '{object_id}'", param=param, code="resource_missing")
        return store[object_id]

    def _find(self, object_id: str, param: str | None = None) -> dict[str, Any]:
        """Any object by its id's prefix (for expand[])."""
        kinds = {"cs_": ("checkout.session", self.sessions), "pi_": ("payment_intent", self.payment_intents),
                 "ch_": ("charge", self.charges), "re_": ("refund", self.refunds), "du_": ("dispute", self.disputes)}
        if object_id[:3] not in kinds:
            raise FakeStripeError(400, f"FakeStripe does not keep objects like {object_id}, so cannot expand it.")
        name, store = kinds[object_id[:3]]
        return self._get(store, name, object_id, param)

    def _expand(self, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        for path in paths:
            target: Any = obj
            for part in path.split("."):
                if not isinstance(target, dict):
                    break
                if part not in _EXPANDABLE.get(target.get("object", ""), ()):
                    raise _invalid(f"This property cannot be expanded ({part}).", "expand")
                if isinstance(target[part], str):
                    target[part] = copy.deepcopy(self._find(target[part]))
                target = target[part]
        return obj

    # ------------------------------------------------------------ endpoints

    def _create_session(self, p: dict[str, Any]) -> dict[str, Any]:
        now = int(time.time())
        if "mode" not in p:
            raise _invalid("Missing required param: mode.", "mode", "parameter_missing")
        if p["mode"] not in ("payment", "setup", "subscription"):
            raise _invalid("Invalid mode: must be one of payment, setup, or subscription", "mode", "parameter_invalid")
        if p["mode"] != "payment":
            raise _invalid(f"FakeStripe implements only mode=payment, not {p['mode']}.", "mode")
        if not p.get("success_url"):
            raise _invalid("Missing required param: success_url.", "success_url", "parameter_missing")
        for key in ("success_url", "cancel_url"):
            if key in p and not re.match(r"https?://[^/\s]+", p[key]):
                raise _invalid("Not a valid URL", key, "url_invalid")
        if "customer_email" in p and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", p["customer_email"]):
            raise _invalid(f"Invalid email address: {p['customer_email']}", "customer_email", "email_invalid")
        if not p.get("line_items"):
            raise _invalid("The `line_items` parameter is required in payment mode.", "line_items")
        currency, total = None, 0
        for i, item in enumerate(p["line_items"]):
            name = f"line_items[{i}]"
            if "price" in item:
                raise FakeStripeError(400, f"No such price: '{item['price']}'", param=f"{name}[price]",
                                      code="resource_missing")
            if "price_data" not in item:
                raise _invalid(f"Missing required param: {name}[price_data].", f"{name}[price_data]",
                               "parameter_missing")
            data = item["price_data"]
            if "unit_amount" not in data:  # unit_amount_decimal is not faked
                raise _invalid(f"Missing required param: {name}[price_data][unit_amount].",
                               f"{name}[price_data][unit_amount]", "parameter_missing")
            if data["unit_amount"] <= 0:
                raise _invalid("This value must be greater than 0.", f"{name}[price_data][unit_amount]")
            if "product" in data:
                raise FakeStripeError(400, f"No such product: '{data['product']}'",
                                      param=f"{name}[price_data][product]", code="resource_missing")
            if "product_data" not in data:
                raise _invalid(f"Missing required param: {name}[price_data][product_data].",
                               f"{name}[price_data][product_data]", "parameter_missing")
            if not re.fullmatch(r"[A-Za-z]{3}", data["currency"]):
                raise _invalid(f"Invalid currency: {data['currency']}", f"{name}[price_data][currency]")
            if currency is not None and data["currency"].lower() != currency:
                raise _invalid("Checkout does not support multiple currencies: all line items must use the same "
                               f"currency ({currency}).", f"{name}[price_data][currency]")
            currency = data["currency"].lower()
            if "quantity" not in item:
                raise _invalid(f"Quantity is required. Add `quantity` to `{name}`", f"{name}[quantity]")
            if item["quantity"] < 1:
                raise _invalid("This value must be greater than or equal to 1.", f"{name}[quantity]")
            total += data["unit_amount"] * item["quantity"]
        expires_at = p.get("expires_at", now + DAY)
        if expires_at < now + 30 * 60:
            raise _invalid("The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
                           "expires_at")
        if expires_at > now + DAY:
            raise _invalid("The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
                           "expires_at")
        metadata = _check_metadata(p.get("metadata"), "metadata")
        session_id = _new_id("cs_test_", 58)
        session = {
            "id": session_id, "object": "checkout.session", "amount_subtotal": total, "amount_total": total,
            "cancel_url": p.get("cancel_url"), "client_reference_id": p.get("client_reference_id"),
            "created": now, "currency": currency, "customer": None, "customer_details": None,
            "customer_email": p.get("customer_email"), "expires_at": expires_at, "invoice": None,
            "invoice_creation": p.get("invoice_creation", {"enabled": False}), "livemode": False,
            "metadata": metadata, "mode": p["mode"], "payment_intent": None,
            "payment_method_types": p.get("payment_method_types", ["card"]), "payment_status": "unpaid", "status": "open", "success_url": p["success_url"],
            "tax_id_collection": p.get("tax_id_collection", {"enabled": False}),
            "url": f"{self.hosted_base}/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        self.session_params[session_id] = p
        return session

    def _list_sessions(self, p: dict[str, Any]) -> dict[str, Any]:
        """GET /v1/checkout/sessions with `status` and `created[gte]` (newest first, one page:
        the tests make few sessions)."""
        created = p.get("created") or {}
        since = int(created.get("gte", 0)) if isinstance(created, dict) else int(created)
        found = [s for s in self.sessions.values()
                 if (not p.get("status") or s["status"] == p["status"]) and s["created"] >= since]
        found.sort(key=lambda s: s["created"], reverse=True)
        limit = int(p.get("limit", 10))
        return {"object": "list", "url": "/v1/checkout/sessions", "has_more": len(found) > limit,
                "data": found[:limit]}

    def _retrieve(self, store: dict[str, dict[str, Any]], name: str, p: dict[str, Any], **path: str
                  ) -> dict[str, Any]:
        ((param, object_id),) = path.items()
        return self._get(store, name, object_id, param)

    def _post_expire(self, p: dict[str, Any], session: str) -> dict[str, Any]:
        return self._expire(self._get(self.sessions, "checkout.session", session, "session"))

    def _post_refund(self, p: dict[str, Any]) -> dict[str, Any]:
        if "charge" in p:
            charge = self._get(self.charges, "charge", p["charge"], "charge")
            if "payment_intent" in p and charge["payment_intent"] != p["payment_intent"]:
                raise _invalid(f"Charge {charge['id']} does not belong to PaymentIntent {p['payment_intent']}.",
                               "payment_intent")
        elif "payment_intent" in p:
            charge = self._charge_of(p["payment_intent"])
        else:
            raise _invalid("One of the following params should be provided for this request: payment_intent or "
                           "charge.", None, "parameter_missing")
        if "amount" in p and p["amount"] <= 0:
            raise _invalid("Invalid positive integer", "amount", "parameter_invalid_integer")
        return self._refund(charge, p.get("amount"), p.get("reason"), _check_metadata(p.get("metadata"), "metadata"))

    # ------------------------------------------------------------ state changes (shared by HTTP and tests)

    def _expire(self, session: dict[str, Any]) -> dict[str, Any]:
        if session["status"] != "open":
            raise FakeStripeError(400, 'Only Checkout Sessions with a status in ["open"] can be expired.',
                                  param="session")
        session.update(status="expired", url=None)
        return session

    def _charge_of(self, payment_intent_id: str) -> dict[str, Any]:
        intent = self._get(self.payment_intents, "payment_intent", payment_intent_id, "payment_intent")
        if intent["latest_charge"] is None:
            raise FakeStripeError(400, f"This PaymentIntent ({intent['id']}) does not have a successful charge to "
                                  "refund.", param="payment_intent", code="charge_not_refundable")
        return self.charges[intent["latest_charge"]]

    def _refund(self, charge: dict[str, Any], amount: int | None, reason: str | None = None,
                metadata: dict[str, str] | None = None) -> dict[str, Any]:
        if not charge["paid"]:
            raise FakeStripeError(400, f"Charge {charge['id']} has not been paid (status {charge['status']}) and "
                                  "cannot be refunded.", param="charge", code="charge_not_refundable")
        if any(d["charge"] == charge["id"] and d["status"] in ("needs_response", "under_review")
               for d in self.disputes.values()):
            raise FakeStripeError(400, f"Charge {charge['id']} has been disputed.", param="charge",
                                  code="charge_disputed")
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining == 0:
            raise FakeStripeError(400, f"Charge {charge['id']} has already been refunded.", param="charge",
                                  code="charge_already_refunded")
        amount = remaining if amount is None else amount
        if amount > remaining:
            money = charge["currency"].upper()
            raise FakeStripeError(400, f"Refund amount ({money} {amount / 100:.2f}) is greater than unrefunded "
                                  f"amount on charge ({money} {remaining / 100:.2f})", param="amount",
                                  code="amount_too_large")
        refund = {
            "id": _new_id("re_"), "object": "refund", "amount": amount, "balance_transaction": None,
            "charge": charge["id"], "created": int(time.time()), "currency": charge["currency"],
            "metadata": metadata or {}, "payment_intent": charge["payment_intent"], "reason": reason,
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        refunds = charge["refunds"]
        refunds["data"].insert(0, refund)  # newest first, as Stripe lists them
        refunds["total_count"] = len(refunds["data"])
        return refund

    # ------------------------------------------------------------ test-side control API

    def pay(self, session_id: str, *, amount: int | None = None, currency: str | None = None,
            asynchronous: bool = False, email: str | None = None) -> dict[str, Any]:
        """The buyer completes Checkout (``asynchronous``: a bank debit that settles later)."""
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}, not open: it cannot be paid")
            now = int(time.time())
            amount = session["amount_total"] if amount is None else amount
            currency = (currency or session["currency"]).lower()
            intent_id, charge_id = _new_id("pi_"), _new_id("ch_")
            self.charges[charge_id] = {
                "id": charge_id, "object": "charge", "amount": amount, "amount_captured": amount,
                "amount_refunded": 0, "balance_transaction": None, "captured": True, "created": now,
                "currency": currency, "customer": None, "disputed": False, "failure_code": None,
                "failure_message": None, "livemode": False, "metadata": {}, "paid": not asynchronous,
                "payment_intent": intent_id, "refunded": False,
                "receipt_url": f"https://pay.stripe.com/receipts/payment/{charge_id}",
                "refunds": {"object": "list", "data": [], "has_more": False, "total_count": 0,
                            "url": f"/v1/charges/{charge_id}/refunds"},
                "status": "pending" if asynchronous else "succeeded",
            }
            intent_data = self.session_params[session_id].get("payment_intent_data", {})
            self.payment_intents[intent_id] = {
                "id": intent_id, "object": "payment_intent", "amount": amount,
                "amount_received": 0 if asynchronous else amount, "created": now, "currency": currency,
                "customer": None, "description": intent_data.get("description"), "last_payment_error": None,
                "latest_charge": charge_id, "livemode": False, "metadata": dict(intent_data.get("metadata", {})), "payment_method_types": ["card"],
                "status": "processing" if asynchronous else "succeeded",
            }
            session.update(
                status="complete", payment_status="unpaid" if asynchronous else "paid", payment_intent=intent_id,
                amount_total=amount, currency=currency, url=None,
                customer_details={"address": None, "email": email or session["customer_email"] or "buyer@example.com",
                                  "name": None, "phone": None, "tax_exempt": "none", "tax_ids": []},
            )
            if session["invoice_creation"].get("enabled"):
                session["invoice"] = _new_id("in_")
            return session

    def _async_intent(self, session_id: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        session = self.sessions[session_id]
        intent = self.payment_intents[session["payment_intent"]]
        if intent["status"] != "processing":
            raise ValueError(f"{intent['id']} is {intent['status']}, not processing")
        return session, intent, self.charges[intent["latest_charge"]]

    def succeed_async(self, session_id: str) -> dict[str, Any]:
        """The delayed payment settles (checkout.session.async_payment_succeeded)."""
        with self._lock:
            session, intent, charge = self._async_intent(session_id)
            intent.update(status="succeeded", amount_received=intent["amount"])
            charge.update(status="succeeded", paid=True)
            session["payment_status"] = "paid"
            return session

    def fail_async(self, session_id: str) -> dict[str, Any]:
        """The delayed payment fails (checkout.session.async_payment_failed)."""
        with self._lock:
            session, intent, charge = self._async_intent(session_id)
            intent.update(status="requires_payment_method", last_payment_error={
                "code": "payment_intent_payment_attempt_failed", "message": "The payment failed."})
            charge.update(status="failed", paid=False, failure_code="generic_decline",
                          failure_message="The payment failed.")
            return session

    def expire(self, session_id: str) -> dict[str, Any]:
        """The session's expiry time passes (checkout.session.expired)."""
        with self._lock:
            return self._expire(self.sessions[session_id])

    def refund(self, payment_intent_id: str, amount: int | None = None) -> dict[str, Any]:
        """A refund made in Stripe's dashboard (charge.refunded)."""
        with self._lock:
            return self._refund(self._charge_of(payment_intent_id), amount)

    def open_dispute(self, payment_intent_id: str) -> dict[str, Any]:
        """The buyer's bank opens a chargeback (charge.dispute.created)."""
        with self._lock:
            charge = self._charge_of(payment_intent_id)
            dispute = {
                "id": _new_id("du_"), "object": "dispute", "amount": charge["amount"] - charge["amount_refunded"],
                "balance_transactions": [], "charge": charge["id"], "created": int(time.time()),
                "currency": charge["currency"], "is_charge_refundable": False, "livemode": False, "metadata": {},
                "payment_intent": payment_intent_id, "reason": "fraudulent", "status": "needs_response",
            }
            self.disputes[dispute["id"]] = dispute
            charge["disputed"] = True
            return dispute

    def close_dispute(self, dispute_id: str, status: str) -> dict[str, Any]:
        """The dispute is decided (charge.dispute.closed); ``status`` is "won" or "lost"."""
        if status not in ("won", "lost"):
            raise ValueError(f"a dispute closes as won or lost, not {status!r}")
        with self._lock:
            dispute = self.disputes[dispute_id]
            dispute["status"] = status
            return dispute

    def fail_next(self, method: str, path_prefix: str, status: int = 500, count: int = 1,
                  should_retry: bool | None = None) -> None:
        """Answer the next ``count`` matching requests with a Stripe ``api_error`` (and optionally the
        ``Stripe-Should-Retry`` header stripe-python obeys). Not stored under idempotency keys."""
        with self._lock:
            self._failures.append([method.upper(), path_prefix, status, count, should_retry])

    def hang_next(self, method: str, path_prefix: str, seconds: float, *, count: int = 1,
                  after_handling: bool = False) -> None:
        """The next ``count`` matching requests wait ``seconds`` before they are handled (Stripe is
        slow), or with ``after_handling`` are handled at once and then wait before answering (the
        work is done, the answer late). Only the hanging request waits: other calls go on."""
        with self._lock:
            self._faults.append(_Fault("hang", method.upper(), path_prefix, count, seconds, after_handling))

    def drop_next(self, method: str, path_prefix: str, *, count: int = 1, after_handling: bool = False) -> None:
        """Close the connection of the next ``count`` matching requests without an HTTP answer
        (stripe.APIConnectionError for the client): before handling them, or with
        ``after_handling`` after the work is done (the object exists; the answer was lost)."""
        with self._lock:
            self._faults.append(_Fault("drop", method.upper(), path_prefix, count, after_handling=after_handling))

    def hold(self, method: str, path_prefix: str, *, timeout: float = HOLD_TIMEOUT) -> Gate:
        """Keep the next matching request waiting until ``gate.release()``; it is then handled
        normally. ``gate.arrived`` tells when it came in; ``gate.answered`` when it was answered."""
        gate = Gate(method.upper(), path_prefix, timeout)
        with self._lock:
            self._faults.append(_Fault("hold", method.upper(), path_prefix, gate=gate))
        return gate

    def event(self, type: str, obj: dict[str, Any], *, event_id: str | None = None,
              created: int | None = None) -> dict[str, Any]:
        """A webhook event as Stripe sends it (a snapshot of ``obj`` now)."""
        with self._lock:
            snapshot = copy.deepcopy(obj)
        return {
            "id": event_id or _new_id("evt_"), "object": "event", "api_version": stripe.api_version,
            "created": int(time.time()) if created is None else created, "data": {"object": snapshot},
            "livemode": False, "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
            "type": type,
        }

    def sign(self, payload: bytes | str, *, secret: str | None = None, timestamp: int | None = None) -> str:
        """The ``Stripe-Signature`` header: ``t=<unix>,v1=<HMAC-SHA256 of "<t>.<payload>">``."""
        if isinstance(payload, str):
            payload = payload.encode()
        t = int(time.time()) if timestamp is None else int(timestamp)
        key = (secret or self.webhook_secret).encode()
        return f"t={t},v1={hmac.new(key, b'%d.' % t + payload, hashlib.sha256).hexdigest()}"


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def fake_stripe_server() -> Iterator[FakeStripe]:
    """One fake Stripe server for the whole test session."""
    fake = FakeStripe().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_stripe(fake_stripe_server: FakeStripe) -> FakeStripe:
    """The fake Stripe, emptied for this test."""
    fake_stripe_server.reset()
    return fake_stripe_server
