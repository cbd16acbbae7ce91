"""dwhatsapp: libdwhatsapp's C ABI (dwhatsapp.h) from Python, through ctypes.

Python 3 standard library only. The library is found through the
DWS_LIBRARY environment variable (a path to libdwhatsapp.so), else the
system's library search (ctypes.util.find_library), else "libdwhatsapp.so.0".

    import dwhatsapp

    with dwhatsapp.Node(discovery_port=0) as node, \\
         dwhatsapp.Client("/tmp/alice", servers=[node.address]) as alice:
        alice.register("alice", "a long password")
        alice.send("bob", "hello")
        for message in alice.messages(timeout=30):
            print(message.from_, message.text)

Every failure raises a DwsError subclass named after its status code
(InvalidArgument, Unauthenticated, NotFound, ...), carrying the library's
detail text. Callbacks run on the library's receiver thread; they are kept
alive for as long as they are registered. An exception a callback raises is
handed to the on_error callback (default: printed to stderr) and the
receiver keeps running.
"""

import atexit
import ctypes
import ctypes.util
import enum
import os
import queue
import sys
import threading
import time
import traceback
import weakref
from dataclasses import dataclass, field
from typing import Callable, Iterator, List, Optional

__all__ = [
    "DwsError", "InvalidArgument", "Unauthenticated", "Forbidden", "NotFound", "Exists", "PayloadTooLarge",
    "NotResponsible", "RateLimited", "Unavailable", "Internal",
    "Delivery", "Message", "Contact", "Device", "Chat", "Peer", "RingView", "RecordCounts",
    "Node", "Client", "version",
]


class DwsError(Exception):
    """A dws_status other than DWS_OK; `detail` is dws_last_error()'s text."""

    status = None  # the dws_status value of the subclass

    def __init__(self, detail: str, status: Optional[int] = None):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status

    def __str__(self):
        return self.detail


class InvalidArgument(DwsError):
    status = -1


class Unauthenticated(DwsError):
    status = -2


class Forbidden(DwsError):
    status = -3


class NotFound(DwsError):
    status = -4


class Exists(DwsError):
    status = -5


class PayloadTooLarge(DwsError):
    status = -6


class NotResponsible(DwsError):
    status = -7


class RateLimited(DwsError):
    status = -8


class Unavailable(DwsError):
    status = -9


class Internal(DwsError):
    status = -10


_BY_STATUS = {cls.status: cls for cls in DwsError.__subclasses__()}


def _error(status: int, detail: str) -> DwsError:
    cls = _BY_STATUS.get(status)
    return cls(detail) if cls else DwsError(detail, status)


def _find_library() -> str:
    path = os.environ.get("DWS_LIBRARY")
    if path:
        return path
    return ctypes.util.find_library("dwhatsapp") or "libdwhatsapp.so.0"


# CDLL, not PyDLL: the GIL is released during every call, so a call that
# waits for the receiver thread never waits on a callback waiting for the GIL.
_lib = ctypes.CDLL(_find_library())

_c_status = ctypes.c_int
_log_fn = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_void_p)


class _NodeOptions(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("listen", ctypes.c_char_p),
        ("advertise", ctypes.c_char_p),
        ("data_dir", ctypes.c_char_p),
        ("peer", ctypes.c_char_p),
        ("ring_secret_file", ctypes.c_char_p),
        ("stabilize_ms", ctypes.c_int),
        ("discovery_port", ctypes.c_int),
        ("open_ring", ctypes.c_int),
        ("tls_cert", ctypes.c_char_p),
        ("tls_key", ctypes.c_char_p),
        ("tls_ca", ctypes.c_char_p),
        ("ring_name", ctypes.c_char_p),
        ("replicas", ctypes.c_int),
        ("successors", ctypes.c_int),
        ("http_threads", ctypes.c_int),
        ("sync_ms", ctypes.c_int),
        ("fsync", ctypes.c_int),
        ("flush_ms", ctypes.c_int),
        ("map_size", ctypes.c_uint64),
        ("message_ttl_s", ctypes.c_int64),
        ("mailbox_quota", ctypes.c_uint32),
        ("log_level", ctypes.c_char_p),
        ("log", _log_fn),
        ("log_user_data", ctypes.c_void_p),
        ("discovery_broadcast", ctypes.c_char_p),
        ("vnodes", ctypes.c_int),
    ]


class _ClientOptions(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("data_dir", ctypes.c_char_p),
        ("servers", ctypes.POINTER(ctypes.c_char_p)),
        ("servers_len", ctypes.c_size_t),
        ("ring_name", ctypes.c_char_p),
        ("discovery_port", ctypes.c_int),
        ("tls_ca", ctypes.c_char_p),
        ("read_receipts", ctypes.c_int),
        ("request_timeout_ms", ctypes.c_int),
        ("poll_wait_s", ctypes.c_int),
        ("kdf_opslimit", ctypes.c_uint64),
        ("kdf_memlimit", ctypes.c_uint64),
        ("discovery_broadcast", ctypes.c_char_p),
        ("device_name", ctypes.c_char_p),
    ]


class _Message(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_char_p),
        ("from_", ctypes.c_char_p),
        ("to", ctypes.c_char_p),
        ("text", ctypes.c_char_p),
        ("sent_at", ctypes.c_int64),
        ("state", ctypes.c_int),
        ("outgoing", ctypes.c_int),
        ("received_at", ctypes.c_int64),
    ]


_message_fn = ctypes.CFUNCTYPE(None, ctypes.POINTER(_Message), ctypes.c_void_p)
_error_fn = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)


class _ReceiveCallbacks(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("on_message", _message_fn),
        ("on_state", _message_fn),
        ("on_error", _error_fn),
        ("user_data", ctypes.c_void_p),
    ]


class _MessageList(ctypes.Structure):
    _fields_ = [("items", ctypes.POINTER(ctypes.POINTER(_Message))), ("count", ctypes.c_size_t)]


class _Contact(ctypes.Structure):
    _fields_ = [
        ("nickname", ctypes.c_char_p),
        ("alias", ctypes.c_char_p),
        ("public_key", ctypes.c_char_p),
        ("display_name", ctypes.c_char_p),
        ("key_changed", ctypes.c_int),
        ("safety_number", ctypes.c_char_p),
    ]


class _ContactList(ctypes.Structure):
    _fields_ = [("items", ctypes.POINTER(ctypes.POINTER(_Contact))), ("count", ctypes.c_size_t)]


class _Chat(ctypes.Structure):
    _fields_ = [("peer", ctypes.c_char_p), ("last", ctypes.POINTER(_Message)), ("unread", ctypes.c_int)]


class _ChatList(ctypes.Structure):
    _fields_ = [("items", ctypes.POINTER(ctypes.POINTER(_Chat))), ("count", ctypes.c_size_t)]


class _Device(ctypes.Structure):
    _fields_ = [("id", ctypes.c_char_p), ("name", ctypes.c_char_p), ("added_at", ctypes.c_int64),
                ("this_device", ctypes.c_int)]


class _DeviceList(ctypes.Structure):
    _fields_ = [("items", ctypes.POINTER(ctypes.POINTER(_Device))), ("count", ctypes.c_size_t)]


class _StringList(ctypes.Structure):
    _fields_ = [("items", ctypes.POINTER(ctypes.c_char_p)), ("count", ctypes.c_size_t)]


class _Peer(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("address", ctypes.c_char_p)]


class _RingView(ctypes.Structure):
    _fields_ = [
        ("self_", _Peer),
        ("has_predecessor", ctypes.c_int),
        ("predecessor", _Peer),
        ("successors", ctypes.POINTER(_Peer)),
        ("successors_len", ctypes.c_size_t),
        ("fingers", ctypes.POINTER(_Peer)),
        ("fingers_len", ctypes.c_size_t),
    ]


class _RecordCounts(ctypes.Structure):
    _fields_ = [("primary", ctypes.c_uint64), ("replica", ctypes.c_uint64)]


_P = ctypes.POINTER
_vp = ctypes.c_void_p
_str = ctypes.c_char_p
# A string the library allocates: kept as a raw pointer so that it can be
# handed back to dws_free().
_out_str = _P(ctypes.c_void_p)


def _declare(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_declare("dws_version", _str)
_declare("dws_strerror", _str, _c_status)
_declare("dws_last_error", _str)
_declare("dws_free", None, _vp)
_declare("dws_node_options_init", None, _P(_NodeOptions))
_declare("dws_node_start", _c_status, _P(_NodeOptions), _P(_vp))
_declare("dws_node_address", _c_status, _vp, _out_str)
_declare("dws_node_id", _c_status, _vp, _P(ctypes.c_uint64))
_declare("dws_node_stop", _c_status, _vp)
_declare("dws_node_halt", _c_status, _vp)
_declare("dws_node_free", None, _vp)
_declare("dws_node_view", _c_status, _vp, _P(_P(_RingView)))
_declare("dws_ring_view_free", None, _P(_RingView))
_declare("dws_node_record_counts", _c_status, _vp, _P(_RecordCounts))
_declare("dws_node_metrics", _c_status, _vp, _out_str)
_declare("dws_client_options_init", None, _P(_ClientOptions))
_declare("dws_client_open", _c_status, _P(_ClientOptions), _P(_vp))
_declare("dws_client_free", None, _vp)
_declare("dws_client_register_named", _c_status, _vp, _str, _str, _str)
_declare("dws_client_login", _c_status, _vp, _str, _str)
_declare("dws_client_logout", _c_status, _vp)
_declare("dws_client_whoami", _c_status, _vp, _out_str)
_declare("dws_client_safety_number", _c_status, _vp, _out_str)
_declare("dws_client_change_password", _c_status, _vp, _str, _str)
_declare("dws_client_delete_account", _c_status, _vp, _str)
_declare("dws_client_send", _c_status, _vp, _str, _str, _out_str)
_declare("dws_receive_callbacks_init", None, _P(_ReceiveCallbacks))
_declare("dws_client_start_receiving_with", _c_status, _vp, _P(_ReceiveCallbacks))
_declare("dws_client_stop_receiving", None, _vp)
_declare("dws_client_receive", _c_status, _vp, ctypes.c_int, _P(_P(_MessageList)))
_declare("dws_message_list_free", None, _P(_MessageList))
_declare("dws_client_add_contact", _c_status, _vp, _str, _str)
_declare("dws_client_contacts", _c_status, _vp, _P(_P(_ContactList)))
_declare("dws_contact_list_free", None, _P(_ContactList))
_declare("dws_client_remove_contact", _c_status, _vp, _str)
_declare("dws_client_chats", _c_status, _vp, _P(_P(_ChatList)))
_declare("dws_chat_list_free", None, _P(_ChatList))
_declare("dws_client_history", _c_status, _vp, _str, _str, ctypes.c_int, _P(_P(_MessageList)))
_declare("dws_client_mark_read", _c_status, _vp, _str)
_declare("dws_client_servers", _c_status, _vp, _P(_P(_StringList)))
_declare("dws_string_list_free", None, _P(_StringList))
_declare("dws_client_devices", _c_status, _vp, _P(_P(_DeviceList)))
_declare("dws_device_list_free", None, _P(_DeviceList))
_declare("dws_client_remove_device", _c_status, _vp, ctypes.c_char_p)


def _check(status: int) -> None:
    """Raises the exception for a failed call (dws_last_error() read on the
    same thread, right after the call)."""
    if status != 0:
        raise _error(status, _text(_lib.dws_last_error()) or _text(_lib.dws_strerror(status)))


def _text(raw: Optional[bytes]) -> str:
    return raw.decode("utf-8", "replace") if raw is not None else ""


def _bytes(s: Optional[str]) -> Optional[bytes]:
    return None if s is None else s.encode("utf-8")


def _take_string(p: ctypes.c_void_p) -> Optional[str]:
    """A string the library allocated: its text, then dws_free()."""
    if not p.value:
        return None
    try:
        return _text(ctypes.string_at(p.value))
    finally:
        _lib.dws_free(p)


def version() -> str:
    """The library version, "major.minor.patch"."""
    return _text(_lib.dws_version())


class Delivery(enum.IntEnum):
    """Where a message is in its life (dws_delivery)."""
    SENDING = 0
    STORED = 1
    DELIVERED = 2
    RECEIVED = 3
    READ = 4
    QUEUED = 5


def _delivery(value: int):
    try:
        return Delivery(value)
    except ValueError:
        return value  # a state newer than this module


@dataclass(frozen=True)
class Message:
    id: str
    from_: str
    to: str
    text: str
    sent_at: int  # unix ms, the sender's clock
    state: Delivery
    outgoing: bool
    received_at: int = 0  # unix ms, this client's clock; 0 for outgoing

    @staticmethod
    def _of(m: _Message) -> "Message":
        return Message(_text(m.id), _text(m.from_), _text(m.to), _text(m.text), m.sent_at, _delivery(m.state),
                       bool(m.outgoing), m.received_at)


@dataclass(frozen=True)
class Contact:
    nickname: str
    alias: str
    public_key: str
    display_name: str
    key_changed: bool
    safety_number: str = ""


@dataclass(frozen=True)
class Device:
    id: str
    name: str
    added_at: int  # unix ms
    this_device: bool


@dataclass(frozen=True)
class Chat:
    peer: str
    last: Optional[Message]
    unread: int


@dataclass(frozen=True)
class Peer:
    id: int
    address: str


@dataclass(frozen=True)
class RingView:
    self_: Peer
    predecessor: Optional[Peer]
    successors: List[Peer] = field(default_factory=list)
    fingers: List[Optional[Peer]] = field(default_factory=list)


@dataclass(frozen=True)
class RecordCounts:
    primary: int
    replica: int


def _peer(p: _Peer) -> Optional[Peer]:
    return Peer(p.id, _text(p.address)) if p.address is not None else None


def _report(where: str, exc: BaseException) -> None:
    print(f"dwhatsapp: {where} raised {type(exc).__name__}: {exc}", file=sys.stderr)
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


# What is still open when the interpreter exits is closed first, while
# threads can still call into Python.
_open_clients = weakref.WeakSet()
_open_nodes = weakref.WeakSet()


@atexit.register
def _close_all():
    for c in list(_open_clients):
        c.close()
    for n in list(_open_nodes):
        n.close()


class Node:
    """A ring member in this process (dws_node_t): a new ring when `peer` is
    None, else it joins through `peer` ("" = find one by UDP discovery).
    Safe for use from several threads; close() (or `with`) stops it
    gracefully and releases it. `log`, a callable taking one line, runs on
    the node's threads; it is kept alive until the node is closed."""

    def __init__(self, listen: str = "127.0.0.1:0", *, peer: Optional[str] = None, data_dir: Optional[str] = None,
                 advertise: Optional[str] = None, ring_secret_file: Optional[str] = None, stabilize_ms: int = 0,
                 discovery_port: int = 37020, open_ring: bool = False, tls_cert: Optional[str] = None,
                 tls_key: Optional[str] = None, tls_ca: Optional[str] = None, ring_name: Optional[str] = None,
                 replicas: int = 0, successors: int = 0, http_threads: int = 0, sync_ms: int = 0,
                 fsync: bool = False, flush_ms: int = 0, map_size: int = 0, message_ttl_s: int = 0,
                 mailbox_quota: int = 0, log_level: Optional[str] = None,
                 log: Optional[Callable[[str], None]] = None, vnodes: int = 0):
        o = _NodeOptions()
        _lib.dws_node_options_init(ctypes.byref(o))
        o.listen = _bytes(listen)
        o.advertise, o.data_dir, o.peer = _bytes(advertise), _bytes(data_dir), _bytes(peer)
        o.ring_secret_file = _bytes(ring_secret_file)
        o.stabilize_ms, o.discovery_port, o.open_ring = stabilize_ms, discovery_port, int(open_ring)
        o.tls_cert, o.tls_key, o.tls_ca, o.ring_name = _bytes(tls_cert), _bytes(tls_key), _bytes(tls_ca), \
            _bytes(ring_name)
        o.replicas, o.successors, o.http_threads, o.sync_ms = replicas, successors, http_threads, sync_ms
        o.fsync, o.flush_ms, o.map_size = int(fsync), flush_ms, map_size
        o.message_ttl_s, o.mailbox_quota, o.log_level = message_ttl_s, mailbox_quota, _bytes(log_level)
        o.vnodes = vnodes
        self._log = None
        if log is not None:
            def on_log(line, _user_data):
                try:
                    log(_text(line))
                except BaseException as e:  # noqa: B036: nothing may unwind into the library
                    _report("the node's log callback", e)
            self._log = _log_fn(on_log)
            o.log = self._log
        handle = ctypes.c_void_p()
        _check(_lib.dws_node_start(ctypes.byref(o), ctypes.byref(handle)))
        self._handle = handle
        self._lock = threading.Lock()
        _open_nodes.add(self)

    def _h(self) -> ctypes.c_void_p:
        if self._handle is None:
            raise InvalidArgument("the Node is closed")
        return self._handle

    @property
    def address(self) -> str:
        """The advertised "host:port"."""
        out = ctypes.c_void_p()
        _check(_lib.dws_node_address(self._h(), ctypes.byref(out)))
        return _take_string(out)

    @property
    def id(self) -> int:
        """The 64-bit ring id."""
        out = ctypes.c_uint64()
        _check(_lib.dws_node_id(self._h(), ctypes.byref(out)))
        return out.value

    def view(self) -> RingView:
        """Predecessor, successors and fingers as this node sees them. Unavailable once stopped."""
        p = _P(_RingView)()
        _check(_lib.dws_node_view(self._h(), ctypes.byref(p)))
        try:
            v = p.contents
            return RingView(_peer(v.self_), _peer(v.predecessor) if v.has_predecessor else None,
                            [_peer(v.successors[i]) for i in range(v.successors_len)],
                            [_peer(v.fingers[i]) for i in range(v.fingers_len)])
        finally:
            _lib.dws_ring_view_free(p)

    def record_counts(self) -> RecordCounts:
        c = _RecordCounts()
        _check(_lib.dws_node_record_counts(self._h(), ctypes.byref(c)))
        return RecordCounts(c.primary, c.replica)

    def metrics(self) -> str:
        """Prometheus text, as GET /metrics serves it."""
        out = ctypes.c_void_p()
        _check(_lib.dws_node_metrics(self._h(), ctypes.byref(out)))
        return _take_string(out)

    def stop(self) -> None:
        """Leaves the ring gracefully; address and id stay readable until close()."""
        _check(_lib.dws_node_stop(self._h()))

    def halt(self) -> None:
        """Stops at once without telling anyone, as a crash would."""
        _check(_lib.dws_node_halt(self._h()))

    def close(self) -> None:
        """Stops (gracefully, if still running) and releases the node. Idempotent."""
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            _lib.dws_node_free(handle)
        _open_nodes.discard(self)

    def __enter__(self) -> "Node":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_STOP = object()  # ends a messages() iteration


class Client:
    """An account on the ring (dws_client_t) with its local store in
    `data_dir`. Safe for use from several threads; close() (or `with`)
    stops the receiver and releases it."""

    def __init__(self, data_dir: str, servers=(), *, ring_name: Optional[str] = None, discovery_port: int = 37020,
                 tls_ca: Optional[str] = None, read_receipts: bool = True, request_timeout_ms: int = 0,
                 poll_wait_s: int = 20, kdf_opslimit: int = 0, kdf_memlimit: int = 0,
                 device_name: Optional[str] = None):
        o = _ClientOptions()
        _lib.dws_client_options_init(ctypes.byref(o))
        servers = [_bytes(s) for s in servers]
        array = (ctypes.c_char_p * max(1, len(servers)))(*servers)
        o.data_dir = _bytes(data_dir)
        o.servers, o.servers_len = ctypes.cast(array, _P(ctypes.c_char_p)), len(servers)
        o.ring_name, o.discovery_port, o.tls_ca = _bytes(ring_name), discovery_port, _bytes(tls_ca)
        o.read_receipts, o.request_timeout_ms, o.poll_wait_s = int(read_receipts), request_timeout_ms, poll_wait_s
        o.kdf_opslimit, o.kdf_memlimit = kdf_opslimit, kdf_memlimit
        o.device_name = _bytes(device_name)
        handle = ctypes.c_void_p()
        _check(_lib.dws_client_open(ctypes.byref(o), ctypes.byref(handle)))
        self._handle = handle
        self._lock = threading.Lock()     # guards _handle and _callbacks
        self._callbacks = None            # what the library calls while receiving
        self.inbox = queue.Queue()        # messages when start_receiving() has no on_message
        _open_clients.add(self)

    def _h(self) -> ctypes.c_void_p:
        if self._handle is None:
            raise InvalidArgument("the Client is closed")
        return self._handle

    # Account.

    def register(self, nickname: str, password: str, display_name: Optional[str] = None) -> None:
        """Creates the account on the ring and logs in (InvalidArgument, Exists, Unavailable)."""
        _check(_lib.dws_client_register_named(self._h(), _bytes(nickname), _bytes(password), _bytes(display_name)))

    def login(self, nickname: str, password: str) -> None:
        """Recovers the account with its password (Unauthenticated, RateLimited, Unavailable)."""
        _check(_lib.dws_client_login(self._h(), _bytes(nickname), _bytes(password)))

    def logout(self) -> None:
        """Stops the receiver and forgets the key; the local history stays."""
        _check(_lib.dws_client_logout(self._h()))
        self._forget_callbacks()

    def whoami(self) -> Optional[str]:
        """The logged-in nickname, or None."""
        out = ctypes.c_void_p()
        _check(_lib.dws_client_whoami(self._h(), ctypes.byref(out)))
        return _take_string(out)

    def safety_number(self) -> Optional[str]:
        """The logged-in account's safety number (compare it with a contact's out of band), or None."""
        out = ctypes.c_void_p()
        _check(_lib.dws_client_safety_number(self._h(), ctypes.byref(out)))
        return _take_string(out)

    def change_password(self, old_password: str, new_password: str) -> None:
        _check(_lib.dws_client_change_password(self._h(), _bytes(old_password), _bytes(new_password)))

    def delete_account(self, password: str) -> None:
        """Deletes the account and its mailbox from the ring, then logs out."""
        _check(_lib.dws_client_delete_account(self._h(), _bytes(password)))
        self._forget_callbacks()

    # Messages.

    def send(self, to: str, text: str) -> str:
        """Stores a message for `to` on the ring; returns its id (NotFound, Forbidden, Unavailable, ...)."""
        out = ctypes.c_void_p()
        _check(_lib.dws_client_send(self._h(), _bytes(to), _bytes(text), ctypes.byref(out)))
        return _take_string(out)

    def receive(self, wait_s: int = 0) -> List[Message]:
        """One receive cycle on this thread, waiting up to wait_s seconds for mail."""
        p = _P(_MessageList)()
        _check(_lib.dws_client_receive(self._h(), wait_s, ctypes.byref(p)))
        return _messages(p)

    def start_receiving(self, on_message: Optional[Callable[[Message], None]] = None,
                        on_state: Optional[Callable[[Message], None]] = None,
                        on_error: Optional[Callable[[BaseException], None]] = None) -> None:
        """Starts the background receiver. Each callback runs on the
        receiver thread: on_message once per new message (with none given,
        messages go to self.inbox), on_state when an outgoing message changes
        state, on_error with a DwsError when a receive cycle fails or with
        whatever a callback raised (default: printed to stderr). The
        receiver keeps running either way. Replaces earlier callbacks; the
        old ones are done when this returns."""
        report = on_error or (lambda e: _report("a dwhatsapp callback", e))
        deliver = on_message or self.inbox.put

        def guarded(fn, what):
            def call(*args):
                try:
                    fn(*args)
                except BaseException as e:  # noqa: B036: nothing may unwind into the library
                    try:
                        report(e)
                    except BaseException as again:  # noqa: B036
                        _report(f"on_error (reporting what {what} raised)", again)
            return call

        message_cb = guarded(deliver, "on_message")
        state_cb = guarded(on_state, "on_state") if on_state else None
        error_cb = guarded(report, "on_error")

        cbs = _ReceiveCallbacks()
        _lib.dws_receive_callbacks_init(ctypes.byref(cbs))
        keep = [cbs, _message_fn(lambda m, _ud: message_cb(Message._of(m.contents)))]
        cbs.on_message = keep[-1]
        if state_cb:
            keep.append(_message_fn(lambda m, _ud: state_cb(Message._of(m.contents))))
            cbs.on_state = keep[-1]
        keep.append(_error_fn(lambda code, detail, _ud: error_cb(_error(code, _text(detail)))))
        cbs.on_error = keep[-1]
        with self._lock:
            _check(_lib.dws_client_start_receiving_with(self._h(), ctypes.byref(cbs)))
            # The old callbacks are done: the library stopped them first.
            self._callbacks = keep

    def stop_receiving(self) -> None:
        """Stops the background receiver and waits for it: no callback runs
        after this returns, and a messages() iteration ends."""
        with self._lock:
            if self._handle is not None:
                _lib.dws_client_stop_receiving(self._handle)
            self._callbacks = None
        self.inbox.put(_STOP)

    def _forget_callbacks(self) -> None:
        with self._lock:
            self._callbacks = None
        self.inbox.put(_STOP)

    def messages(self, timeout: Optional[float] = None) -> Iterator[Message]:
        """Incoming messages as they arrive, starting the receiver (into
        self.inbox) if it is not running. Ends after `timeout` seconds
        without a message (None: never), or when the receiver is stopped."""
        if self._callbacks is None:
            self.start_receiving()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # Short waits, so that signals (Ctrl-C) get through.
            left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if left <= 0:
                return
            try:
                m = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            if m is _STOP:
                if self._callbacks is None:
                    return
                continue  # from a receiver stopped before this one started
            if deadline is not None:
                deadline = time.monotonic() + timeout
            yield m

    # Contacts, chats, history.

    def add_contact(self, nickname: str, alias: Optional[str] = None) -> None:
        """Pins the user's key (NotFound; Forbidden when the key changed: add again to accept it)."""
        _check(_lib.dws_client_add_contact(self._h(), _bytes(nickname), _bytes(alias)))

    def contacts(self) -> List[Contact]:
        p = _P(_ContactList)()
        _check(_lib.dws_client_contacts(self._h(), ctypes.byref(p)))
        try:
            out = []
            for i in range(p.contents.count):
                c = p.contents.items[i].contents
                out.append(Contact(_text(c.nickname), _text(c.alias), _text(c.public_key), _text(c.display_name),
                                   bool(c.key_changed), _text(c.safety_number)))
            return out
        finally:
            _lib.dws_contact_list_free(p)

    def remove_contact(self, nickname: str) -> None:
        _check(_lib.dws_client_remove_contact(self._h(), _bytes(nickname)))

    def chats(self) -> List[Chat]:
        """Every conversation, most recent first."""
        p = _P(_ChatList)()
        _check(_lib.dws_client_chats(self._h(), ctypes.byref(p)))
        try:
            out = []
            for i in range(p.contents.count):
                c = p.contents.items[i].contents
                out.append(Chat(_text(c.peer), Message._of(c.last.contents) if c.last else None, c.unread))
            return out
        finally:
            _lib.dws_chat_list_free(p)

    def history(self, peer: str, before: Optional[str] = None, limit: int = 50) -> List[Message]:
        """Messages with `peer`, oldest first; older than message id `before` when given."""
        p = _P(_MessageList)()
        _check(_lib.dws_client_history(self._h(), _bytes(peer), _bytes(before), limit, ctypes.byref(p)))
        return _messages(p)

    def mark_read(self, peer: str) -> None:
        _check(_lib.dws_client_mark_read(self._h(), _bytes(peer)))

    def devices(self) -> List[Device]:
        """The account's devices as the ring lists them, oldest first."""
        p = _P(_DeviceList)()
        _check(_lib.dws_client_devices(self._h(), ctypes.byref(p)))
        try:
            out = []
            for i in range(p.contents.count):
                d = p.contents.items[i].contents
                out.append(Device(_text(d.id), _text(d.name), d.added_at, bool(d.this_device)))
            return out
        finally:
            _lib.dws_device_list_free(p)

    def remove_device(self, device_id: str) -> None:
        """Takes a device off the account (NotFound when it is not listed)."""
        _check(_lib.dws_client_remove_device(self._h(), _bytes(device_id)))

    def servers(self) -> List[str]:
        """Known servers, most recently successful first."""
        p = _P(_StringList)()
        _check(_lib.dws_client_servers(self._h(), ctypes.byref(p)))
        try:
            return [_text(p.contents.items[i]) for i in range(p.contents.count)]
        finally:
            _lib.dws_string_list_free(p)

    def close(self) -> None:
        """Stops the receiver and releases the client. Idempotent."""
        with self._lock:
            handle, self._handle = self._handle, None
            if handle is not None:
                _lib.dws_client_free(handle)
            self._callbacks = None
        if handle is not None:
            self.inbox.put(_STOP)
        _open_clients.discard(self)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _messages(p) -> List[Message]:
    try:
        return [Message._of(p.contents.items[i].contents) for i in range(p.contents.count)]
    finally:
        _lib.dws_message_list_free(p)
