// Package dwhatsapp is libdwhatsapp's C ABI (dwhatsapp.h) for Go, through cgo.
//
// A Node is a ring member in this process; a Client is an account on the
// ring with its local store. Failures are *Error values that wrap a Status,
// so that errors.Is(err, dwhatsapp.ErrNotFound) works; the Error's Detail
// is the library's sentence for people. Client.Receive runs the background
// receiver until its context is done and hands incoming messages out on a
// channel.
//
// Building needs `pkg-config dwhatsapp` to answer (an installed library, or
// PKG_CONFIG_PATH=<build>/meson-uninstalled for a build tree).
package dwhatsapp

/*
#cgo pkg-config: dwhatsapp
#include <stdint.h>
#include <stdlib.h>
#include <dwhatsapp/dwhatsapp.h>

dws_status dwsgo_start_receiving(dws_client_t *client, uintptr_t handle);
void dwsgo_set_log(dws_node_options *options, uintptr_t handle);
*/
import "C"

import (
	"context"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// Status is a dws_status code; the nonzero ones are errors, for errors.Is.
type Status int

// The status codes of dwhatsapp.h.
const (
	OK                 Status = C.DWS_OK
	ErrInvalidArgument Status = C.DWS_ERR_INVALID_ARGUMENT
	ErrUnauthenticated Status = C.DWS_ERR_UNAUTHENTICATED
	ErrForbidden       Status = C.DWS_ERR_FORBIDDEN
	ErrNotFound        Status = C.DWS_ERR_NOT_FOUND
	ErrExists          Status = C.DWS_ERR_EXISTS
	ErrPayloadTooLarge Status = C.DWS_ERR_PAYLOAD_TOO_LARGE
	ErrNotResponsible  Status = C.DWS_ERR_NOT_RESPONSIBLE
	ErrRateLimited     Status = C.DWS_ERR_RATE_LIMITED
	ErrUnavailable     Status = C.DWS_ERR_UNAVAILABLE
	ErrInternal        Status = C.DWS_ERR_INTERNAL
)

// Error is the library's short description of the code ("not found").
func (s Status) Error() string { return C.GoString(C.dws_strerror(C.dws_status(s))) }

// Error is a failed call: its Status and the library's detail text.
type Error struct {
	Status Status
	Detail string
}

func (e *Error) Error() string { return e.Detail }

// Unwrap makes errors.Is(err, ErrNotFound) (and the others) work.
func (e *Error) Unwrap() error { return e.Status }

// Delivery is where a message is in its life (dws_delivery).
type Delivery int

// The delivery states of dwhatsapp.h.
const (
	Sending   Delivery = C.DWS_DELIVERY_SENDING
	Stored    Delivery = C.DWS_DELIVERY_STORED
	Delivered Delivery = C.DWS_DELIVERY_DELIVERED
	Received  Delivery = C.DWS_DELIVERY_RECEIVED
	Read      Delivery = C.DWS_DELIVERY_READ
	Queued    Delivery = C.DWS_DELIVERY_QUEUED
)

// Version is the library version, "major.minor.patch".
func Version() string { return C.GoString(C.dws_version()) }

// call runs one library call and, on failure, reads dws_last_error() on
// the same OS thread (it is per thread, and goroutines move between them).
func call(f func() C.dws_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	st := f()
	if st == C.DWS_OK {
		return nil
	}
	return &Error{Status: Status(st), Detail: C.GoString(C.dws_last_error())}
}

// cstrings holds C copies of Go strings until free().
type cstrings []*C.char

func (cs *cstrings) of(s string) *C.char {
	p := C.CString(s)
	*cs = append(*cs, p)
	return p
}

// orNil is NULL for "".
func (cs *cstrings) orNil(s string) *C.char {
	if s == "" {
		return nil
	}
	return cs.of(s)
}

func (cs *cstrings) free() {
	for _, p := range *cs {
		C.free(unsafe.Pointer(p))
	}
}

// takeString copies a string the library allocated, then frees it.
func takeString(p *C.char) string {
	if p == nil {
		return ""
	}
	defer C.dws_free(unsafe.Pointer(p))
	return C.GoString(p)
}

func ms(d time.Duration) C.int { return C.int(d / time.Millisecond) }

// port: 0 = the default, -1 = off.
func port(p int) C.int {
	switch {
	case p < 0:
		return 0
	case p == 0:
		return 37020
	}
	return C.int(p)
}

// ---- Node ----------------------------------------------------------------

// NodeOptions says how a node runs; the zero value of each field is its default.
type NodeOptions struct {
	Listen          string // "host:port", port 0 = any free port; "" = "127.0.0.1:0"
	Advertise       string // "" = the listen address
	DataDir         string // "" = nothing kept on disk
	Peer            string // "" = start a new ring (unless JoinByDiscovery); else join through it
	JoinByDiscovery bool   // with Peer "", find a member by UDP broadcast discovery
	RingSecretFile  string
	Stabilize       time.Duration
	DiscoveryPort   int // 0 = 37020, -1 = off
	OpenRing        bool
	TLSCert, TLSKey string
	TLSCA           string
	RingName        string
	Replicas        int
	Successors      int
	HTTPThreads     int
	Sync            time.Duration
	Fsync           bool
	LogLevel        string       // "error", "warn", "info" (default) or "debug"
	Log             func(string) // each log line; runs on the node's threads; nil = stderr
}

// Node is a ring member in this process. Its methods are safe for
// concurrent use; Close must not race with them.
type Node struct {
	h   *C.dws_node_t
	log cgo.Handle
}

// StartNode starts a node: a new ring, or joins one (see NodeOptions.Peer).
func StartNode(o NodeOptions) (*Node, error) {
	var cs cstrings
	defer cs.free()
	var c C.dws_node_options
	C.dws_node_options_init(&c)
	if o.Listen != "" {
		c.listen = cs.of(o.Listen)
	}
	c.advertise = cs.orNil(o.Advertise)
	c.data_dir = cs.orNil(o.DataDir)
	if o.Peer != "" || o.JoinByDiscovery {
		c.peer = cs.of(o.Peer)
	}
	c.ring_secret_file = cs.orNil(o.RingSecretFile)
	c.stabilize_ms = ms(o.Stabilize)
	c.discovery_port = port(o.DiscoveryPort)
	if o.OpenRing {
		c.open_ring = 1
	}
	c.tls_cert, c.tls_key, c.tls_ca = cs.orNil(o.TLSCert), cs.orNil(o.TLSKey), cs.orNil(o.TLSCA)
	c.ring_name = cs.orNil(o.RingName)
	c.replicas, c.successors, c.http_threads = C.int(o.Replicas), C.int(o.Successors), C.int(o.HTTPThreads)
	c.sync_ms = ms(o.Sync)
	if o.Fsync {
		c.fsync = 1
	}
	c.log_level = cs.orNil(o.LogLevel)
	n := &Node{}
	if o.Log != nil {
		n.log = cgo.NewHandle(o.Log)
		C.dwsgo_set_log(&c, C.uintptr_t(n.log))
	}
	if err := call(func() C.dws_status { return C.dws_node_start(&c, &n.h) }); err != nil {
		if n.log != 0 {
			n.log.Delete()
		}
		return nil, err
	}
	return n, nil
}

// Address is the advertised "host:port".
func (n *Node) Address() string {
	var p *C.char
	if call(func() C.dws_status { return C.dws_node_address(n.h, &p) }) != nil {
		return ""
	}
	return takeString(p)
}

// ID is the node's ring id.
func (n *Node) ID() uint64 {
	var id C.uint64_t
	_ = call(func() C.dws_status { return C.dws_node_id(n.h, &id) })
	return uint64(id)
}

// Peer is a ring member as others see it.
type Peer struct {
	ID      uint64
	Address string
}

// RingView is one node's view of the ring.
type RingView struct {
	Self        Peer
	Predecessor *Peer
	Successors  []Peer
	Fingers     []*Peer // nil where unknown
}

func peerOf(p C.dws_peer) *Peer {
	if p.address == nil {
		return nil
	}
	return &Peer{ID: uint64(p.id), Address: C.GoString(p.address)}
}

// View is the node's predecessor, successors and fingers (ErrUnavailable once stopped).
func (n *Node) View() (RingView, error) {
	var v *C.dws_ring_view
	if err := call(func() C.dws_status { return C.dws_node_view(n.h, &v) }); err != nil {
		return RingView{}, err
	}
	defer C.dws_ring_view_free(v)
	out := RingView{Self: *peerOf(v.self)}
	if v.has_predecessor != 0 {
		out.Predecessor = peerOf(v.predecessor)
	}
	for _, p := range unsafe.Slice(v.successors, int(v.successors_len)) {
		out.Successors = append(out.Successors, *peerOf(p))
	}
	for _, p := range unsafe.Slice(v.fingers, int(v.fingers_len)) {
		out.Fingers = append(out.Fingers, peerOf(p))
	}
	return out, nil
}

// RecordCounts are the records a node holds, by role.
type RecordCounts struct{ Primary, Replica uint64 }

// RecordCounts is what the node holds (ErrUnavailable once stopped).
func (n *Node) RecordCounts() (RecordCounts, error) {
	var c C.dws_record_counts
	err := call(func() C.dws_status { return C.dws_node_record_counts(n.h, &c) })
	return RecordCounts{uint64(c.primary), uint64(c.replica)}, err
}

// Stop leaves the ring gracefully; Address and ID keep answering until Close.
func (n *Node) Stop() error { return call(func() C.dws_status { return C.dws_node_stop(n.h) }) }

// Halt stops at once without telling anyone, as a crash would.
func (n *Node) Halt() error { return call(func() C.dws_status { return C.dws_node_halt(n.h) }) }

// Close stops the node (gracefully, if it runs) and releases it. Idempotent.
func (n *Node) Close() error {
	if n.h != nil {
		C.dws_node_free(n.h)
		n.h = nil
	}
	if n.log != 0 {
		n.log.Delete()
		n.log = 0
	}
	return nil
}

// ---- Client --------------------------------------------------------------

// ClientOptions says how a client runs; the zero value of each field but
// DataDir is its default.
type ClientOptions struct {
	DataDir        string   // required: the client's local store
	Servers        []string // "host:port" each
	RingName       string
	DiscoveryPort  int // 0 = 37020, -1 = off
	TLSCA          string
	NoReadReceipts bool
	RequestTimeout time.Duration // 0 = 5 s
	PollWait       time.Duration // long poll of the receiver; 0 = 20 s
	KDFOpsLimit    uint64        // argon2id cost of new passwords; 0 = libsodium's interactive
	KDFMemLimit    uint64
}

// Client is an account on the ring. Its methods are safe for concurrent use.
type Client struct {
	mu       sync.Mutex // guards h and receiver
	h        *C.dws_client_t
	receiver *Receiver
}

// Message is one message of a conversation.
type Message struct {
	ID, From, To, Text string
	SentAt             time.Time // the sender's clock
	ReceivedAt         time.Time // this client's clock; zero for outgoing
	State              Delivery
	Outgoing           bool
}

func messageOf(m *C.dws_message) Message {
	out := Message{
		ID: C.GoString(m.id), From: C.GoString(m.from), To: C.GoString(m.to), Text: C.GoString(m.text),
		SentAt: time.UnixMilli(int64(m.sent_at)), State: Delivery(m.state), Outgoing: m.outgoing != 0,
	}
	if m.received_at != 0 {
		out.ReceivedAt = time.UnixMilli(int64(m.received_at))
	}
	return out
}

func messagesOf(l *C.dws_message_list) []Message {
	defer C.dws_message_list_free(l)
	out := make([]Message, 0, int(l.count))
	for _, m := range unsafe.Slice(l.items, int(l.count)) {
		out = append(out, messageOf(m))
	}
	return out
}

// Open opens (or creates) a client's data directory. It contacts no server.
func Open(o ClientOptions) (*Client, error) {
	var cs cstrings
	defer cs.free()
	var c C.dws_client_options
	C.dws_client_options_init(&c)
	c.data_dir = cs.orNil(o.DataDir)
	if len(o.Servers) > 0 {
		array := C.malloc(C.size_t(len(o.Servers)) * C.size_t(unsafe.Sizeof((*C.char)(nil))))
		defer C.free(array)
		servers := unsafe.Slice((**C.char)(array), len(o.Servers))
		for i, s := range o.Servers {
			servers[i] = cs.of(s)
		}
		c.servers = (**C.char)(array)
		c.servers_len = C.size_t(len(o.Servers))
	}
	c.ring_name = cs.orNil(o.RingName)
	c.discovery_port = port(o.DiscoveryPort)
	c.tls_ca = cs.orNil(o.TLSCA)
	if o.NoReadReceipts {
		c.read_receipts = 0
	}
	if o.RequestTimeout > 0 {
		c.request_timeout_ms = ms(o.RequestTimeout)
	}
	if o.PollWait > 0 {
		c.poll_wait_s = C.int(o.PollWait / time.Second)
	}
	c.kdf_opslimit, c.kdf_memlimit = C.uint64_t(o.KDFOpsLimit), C.uint64_t(o.KDFMemLimit)
	cl := &Client{}
	if err := call(func() C.dws_status { return C.dws_client_open(&c, &cl.h) }); err != nil {
		return nil, err
	}
	return cl, nil
}

// handle is the C handle, or nil once closed (the library then answers ErrInvalidArgument).
func (c *Client) handle() *C.dws_client_t {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.h
}

// Register creates the account on the ring and logs in (ErrInvalidArgument, ErrExists, ErrUnavailable).
func (c *Client) Register(nickname, password string) error {
	return c.RegisterNamed(nickname, password, "")
}

// RegisterNamed is Register with a display name shown to contacts.
func (c *Client) RegisterNamed(nickname, password, displayName string) error {
	var cs cstrings
	defer cs.free()
	h, n, p, d := c.handle(), cs.of(nickname), cs.of(password), cs.orNil(displayName)
	return call(func() C.dws_status { return C.dws_client_register_named(h, n, p, d) })
}

// Login recovers the account with its password (ErrUnauthenticated, ErrRateLimited, ErrUnavailable).
func (c *Client) Login(nickname, password string) error {
	var cs cstrings
	defer cs.free()
	h, n, p := c.handle(), cs.of(nickname), cs.of(password)
	return call(func() C.dws_status { return C.dws_client_login(h, n, p) })
}

// Logout stops the receiver and forgets the key; the local history stays.
func (c *Client) Logout() error {
	c.stopReceiver()
	h := c.handle()
	return call(func() C.dws_status { return C.dws_client_logout(h) })
}

// Whoami is the logged-in nickname, "" when nobody is.
func (c *Client) Whoami() (string, error) {
	var p *C.char
	h := c.handle()
	if err := call(func() C.dws_status { return C.dws_client_whoami(h, &p) }); err != nil {
		return "", err
	}
	return takeString(p), nil
}

// ChangePassword re-seals the account's key under a new password.
func (c *Client) ChangePassword(oldPassword, newPassword string) error {
	var cs cstrings
	defer cs.free()
	h, o, n := c.handle(), cs.of(oldPassword), cs.of(newPassword)
	return call(func() C.dws_status { return C.dws_client_change_password(h, o, n) })
}

// DeleteAccount deletes the account and its mailbox from the ring, then logs out.
func (c *Client) DeleteAccount(password string) error {
	c.stopReceiver()
	var cs cstrings
	defer cs.free()
	h, p := c.handle(), cs.of(password)
	return call(func() C.dws_status { return C.dws_client_delete_account(h, p) })
}

// Send stores a message for `to` on the ring and returns its id
// (ErrNotFound, ErrForbidden, ErrPayloadTooLarge, ErrUnauthenticated, ErrUnavailable).
func (c *Client) Send(to, text string) (string, error) {
	var cs cstrings
	defer cs.free()
	var id *C.char
	h, t, x := c.handle(), cs.of(to), cs.of(text)
	if err := call(func() C.dws_status { return C.dws_client_send(h, t, x, &id) }); err != nil {
		return "", err
	}
	return takeString(id), nil
}

// ReceiveOnce runs one receive cycle on this goroutine, waiting up to
// `wait` (at most a minute) for mail when the mailbox is empty.
func (c *Client) ReceiveOnce(wait time.Duration) ([]Message, error) {
	var l *C.dws_message_list
	h := c.handle()
	if err := call(func() C.dws_status { return C.dws_client_receive(h, C.int(wait/time.Second), &l) }); err != nil {
		return nil, err
	}
	return messagesOf(l), nil
}

// Receiver is the background receiver Client.Receive started. Messages is
// closed once it has stopped, after its context is done (or the client is
// closed or logged out); Err then says why.
type Receiver struct {
	// Messages are the new incoming messages, in mailbox order. The receiver
	// waits for each to be taken.
	Messages <-chan Message
	// States are outgoing messages whose state changed (delivered, read);
	// dropped when nobody takes them.
	States <-chan Message
	// Errors are failed receive cycles (the receiver retries by itself);
	// dropped when nobody takes them.
	Errors <-chan error

	ctx      context.Context
	cancel   context.CancelFunc
	messages chan Message
	states   chan Message
	errors   chan error
	done     chan struct{}
	err      error
}

// Done is closed once the receiver has stopped.
func (r *Receiver) Done() <-chan struct{} { return r.done }

// Err is nil while the receiver runs, then why it stopped (context.Canceled, ...).
func (r *Receiver) Err() error {
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

// Receive starts the background receiver; it runs until ctx is done.
// One receiver per client at a time: ErrExists while another runs.
func (c *Client) Receive(ctx context.Context) (*Receiver, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.receiver != nil {
		return nil, &Error{Status: ErrExists, Detail: "a receiver is running: cancel its context first"}
	}
	inner, cancel := context.WithCancel(ctx)
	r := &Receiver{
		ctx: inner, cancel: cancel, done: make(chan struct{}),
		messages: make(chan Message), states: make(chan Message, 64), errors: make(chan error, 16),
	}
	r.Messages, r.States, r.Errors = r.messages, r.states, r.errors
	handle := cgo.NewHandle(r)
	h := c.h
	if err := call(func() C.dws_status { return C.dwsgo_start_receiving(h, C.uintptr_t(handle)) }); err != nil {
		handle.Delete()
		cancel()
		return nil, err
	}
	c.receiver = r
	go func() {
		<-inner.Done()
		// The callbacks return once inner is done, so this does not wait on the application.
		C.dws_client_stop_receiving(h)
		handle.Delete()
		c.mu.Lock()
		if c.receiver == r {
			c.receiver = nil
		}
		c.mu.Unlock()
		r.err = ctx.Err()
		if r.err == nil {
			r.err = inner.Err()
		}
		close(r.messages)
		close(r.states)
		close(r.errors)
		close(r.done)
	}()
	return r, nil
}

// stopReceiver stops a running receiver and waits until it has.
func (c *Client) stopReceiver() {
	c.mu.Lock()
	r := c.receiver
	c.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// Contact is a nickname with the public key pinned on first use.
type Contact struct {
	Nickname, Alias, PublicKey, DisplayName string
	KeyChanged                              bool // the ring shows another key: add the contact again to accept it
}

// AddContact checks the user exists and pins its key (ErrNotFound; ErrForbidden when the key changed).
func (c *Client) AddContact(nickname, alias string) error {
	var cs cstrings
	defer cs.free()
	h, n, a := c.handle(), cs.of(nickname), cs.orNil(alias)
	return call(func() C.dws_status { return C.dws_client_add_contact(h, n, a) })
}

// Contacts lists every contact.
func (c *Client) Contacts() ([]Contact, error) {
	var l *C.dws_contact_list
	h := c.handle()
	if err := call(func() C.dws_status { return C.dws_client_contacts(h, &l) }); err != nil {
		return nil, err
	}
	defer C.dws_contact_list_free(l)
	var out []Contact
	for _, x := range unsafe.Slice(l.items, int(l.count)) {
		out = append(out, Contact{C.GoString(x.nickname), C.GoString(x.alias), C.GoString(x.public_key),
			C.GoString(x.display_name), x.key_changed != 0})
	}
	return out, nil
}

// RemoveContact forgets a contact (ErrNotFound when it is none).
func (c *Client) RemoveContact(nickname string) error {
	var cs cstrings
	defer cs.free()
	h, n := c.handle(), cs.of(nickname)
	return call(func() C.dws_status { return C.dws_client_remove_contact(h, n) })
}

// Chat is a conversation: the peer, its last message, the unread count.
type Chat struct {
	Peer   string
	Last   *Message
	Unread int
}

// Chats lists every conversation, most recent first.
func (c *Client) Chats() ([]Chat, error) {
	var l *C.dws_chat_list
	h := c.handle()
	if err := call(func() C.dws_status { return C.dws_client_chats(h, &l) }); err != nil {
		return nil, err
	}
	defer C.dws_chat_list_free(l)
	var out []Chat
	for _, x := range unsafe.Slice(l.items, int(l.count)) {
		chat := Chat{Peer: C.GoString(x.peer), Unread: int(x.unread)}
		if x.last != nil {
			m := messageOf(x.last)
			chat.Last = &m
		}
		out = append(out, chat)
	}
	return out, nil
}

// History is the messages with peer, oldest first: at most limit (0 = 50),
// older than the message id before when it is not "".
func (c *Client) History(peer, before string, limit int) ([]Message, error) {
	var cs cstrings
	defer cs.free()
	var l *C.dws_message_list
	h, p, b := c.handle(), cs.of(peer), cs.orNil(before)
	if err := call(func() C.dws_status { return C.dws_client_history(h, p, b, C.int(limit), &l) }); err != nil {
		return nil, err
	}
	return messagesOf(l), nil
}

// MarkRead sets the unread count of the chat with peer to zero.
func (c *Client) MarkRead(peer string) error {
	var cs cstrings
	defer cs.free()
	h, p := c.handle(), cs.of(peer)
	return call(func() C.dws_status { return C.dws_client_mark_read(h, p) })
}

// Servers are the known servers, most recently successful first.
func (c *Client) Servers() ([]string, error) {
	var l *C.dws_string_list
	h := c.handle()
	if err := call(func() C.dws_status { return C.dws_client_servers(h, &l) }); err != nil {
		return nil, err
	}
	defer C.dws_string_list_free(l)
	var out []string
	for _, s := range unsafe.Slice(l.items, int(l.count)) {
		out = append(out, C.GoString(s))
	}
	return out, nil
}

// Close stops the receiver and releases the client. Idempotent.
func (c *Client) Close() error {
	c.stopReceiver()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h != nil {
		C.dws_client_free(c.h)
		c.h = nil
	}
	return nil
}
