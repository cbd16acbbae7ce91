// Client: an account on the ring, its contacts, chats and history.

package dwhatsapp

/*
#include <stdint.h>
#include <stdlib.h>
#include <dwhatsapp/dwhatsapp.h>
*/
import "C"

import (
	"sync"
	"time"
	"unsafe"
)

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
	DeviceName     string // what Devices shows for this device; "" = the host's name
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
	c.device_name = cs.orNil(o.DeviceName)
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

// Contact is a nickname with the public key pinned on first use.
type Contact struct {
	Nickname, Alias, PublicKey, DisplayName string
	KeyChanged                              bool   // the ring shows another key: add the contact again to accept it
	SafetyNumber                            string // of the pinned key: compare it with the contact's own out of band
}

func contactOf(x *C.dws_contact) Contact {
	return Contact{C.GoString(x.nickname), C.GoString(x.alias), C.GoString(x.public_key),
		C.GoString(x.display_name), x.key_changed != 0, C.GoString(x.safety_number)}
}

// CheckUser checks with the ring that name (a nickname or an alias) is a
// user, pins its key on first sight and returns it (ErrNotFound; ErrForbidden
// when its key changed).
func (c *Client) CheckUser(name string) (Contact, error) {
	var cs cstrings
	defer cs.free()
	var x *C.dws_contact
	h, n := c.handle(), cs.of(name)
	if err := call(func() C.dws_status { return C.dws_client_check_user(h, n, &x) }); err != nil {
		return Contact{}, err
	}
	defer C.dws_contact_free(x)
	return contactOf(x), nil
}

// Resolve is the nickname name stands for: a contact's nickname or alias, else name itself.
func (c *Client) Resolve(name string) (string, error) {
	var cs cstrings
	defer cs.free()
	var p *C.char
	h, n := c.handle(), cs.of(name)
	if err := call(func() C.dws_status { return C.dws_client_resolve(h, n, &p) }); err != nil {
		return "", err
	}
	return takeString(p), nil
}

// SafetyNumber is the logged-in account's safety number ("" when logged out).
func (c *Client) SafetyNumber() (string, error) {
	var p *C.char
	h := c.handle()
	if err := call(func() C.dws_status { return C.dws_client_safety_number(h, &p) }); err != nil {
		return "", err
	}
	return takeString(p), nil
}

// SetReadReceipts turns read receipts on or off (kept in the data directory).
func (c *Client) SetReadReceipts(on bool) error {
	h, v := c.handle(), C.int(0)
	if on {
		v = 1
	}
	return call(func() C.dws_status { return C.dws_client_set_read_receipts(h, v) })
}

// ReadReceipts says whether read receipts are on.
func (c *Client) ReadReceipts() (bool, error) {
	var on C.int
	h := c.handle()
	if err := call(func() C.dws_status { return C.dws_client_read_receipts(h, &on) }); err != nil {
		return false, err
	}
	return on != 0, nil
}

// Reachable is false after the last attempt to reach the ring found no server.
func (c *Client) Reachable() (bool, error) {
	var r C.int
	h := c.handle()
	if err := call(func() C.dws_status { return C.dws_client_reachable(h, &r) }); err != nil {
		return false, err
	}
	return r != 0, nil
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
		out = append(out, contactOf(x))
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

// Device is one device of the account: each receives every message.
type Device struct {
	ID, Name   string
	AddedAt    time.Time
	ThisDevice bool
}

// Devices lists the account's devices as the ring holds them, oldest first.
func (c *Client) Devices() ([]Device, error) {
	var l *C.dws_device_list
	h := c.handle()
	if err := call(func() C.dws_status { return C.dws_client_devices(h, &l) }); err != nil {
		return nil, err
	}
	defer C.dws_device_list_free(l)
	var out []Device
	for _, x := range unsafe.Slice(l.items, int(l.count)) {
		out = append(out, Device{C.GoString(x.id), C.GoString(x.name), time.UnixMilli(int64(x.added_at)), x.this_device != 0})
	}
	return out, nil
}

// RemoveDevice takes a device off the account: it receives nothing new and
// is logged out (ErrNotFound when it is not listed).
func (c *Client) RemoveDevice(id string) error {
	var cs cstrings
	defer cs.free()
	h, d := c.handle(), cs.of(id)
	return call(func() C.dws_status { return C.dws_client_remove_device(h, d) })
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
