package dwhatsapp

// Three nodes and three clients in this process: errors.Is on the status
// values, and a receiver stopped by its context.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const deadline = 30 * time.Second

func startRing(t *testing.T) []*Node {
	t.Helper()
	opts := NodeOptions{Stabilize: 200 * time.Millisecond, Sync: 500 * time.Millisecond, DiscoveryPort: -1,
		HTTPThreads: 4, LogLevel: "warn"}
	// An open ring (chosen by its first node): the joiners need no secret file.
	firstOpts := opts
	firstOpts.OpenRing = true
	first, err := StartNode(firstOpts)
	if err != nil {
		t.Fatalf("start the first node: %v", err)
	}
	nodes := []*Node{first}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Close()
		}
	})
	opts.Peer = first.Address()
	for i := 0; i < 2; i++ {
		n, err := StartNode(opts)
		if err != nil {
			t.Fatalf("join node %d through %s: %v", i+1, opts.Peer, err)
		}
		nodes = append(nodes, n)
	}
	until := time.Now().Add(deadline)
	for {
		formed := true
		for _, n := range nodes {
			v, err := n.View()
			if err != nil || v.Predecessor == nil || len(v.Successors) == 0 {
				formed = false
			}
		}
		if formed {
			return nodes
		}
		if time.Now().After(until) {
			t.Fatalf("no ring of 3 within %v", deadline)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func openClient(t *testing.T, server string) *Client {
	t.Helper()
	c, err := Open(ClientOptions{DataDir: t.TempDir(), Servers: []string{server}, DiscoveryPort: -1,
		PollWait: 2 * time.Second, KDFOpsLimit: 1, KDFMemLimit: 8192})
	if err != nil {
		t.Fatalf("open a client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestBinding(t *testing.T) {
	nodes := startRing(t)
	alice, bob := openClient(t, nodes[0].Address()), openClient(t, nodes[1].Address())
	if err := alice.Register("alice", "alice's password"); err != nil {
		t.Fatalf("register alice: %v", err)
	}
	if err := bob.Register("bob", "bob's password"); err != nil {
		t.Fatalf("register bob: %v", err)
	}

	t.Run("errors.Is on the status values", func(t *testing.T) {
		other := openClient(t, nodes[2].Address())
		cases := []struct {
			what string
			err  error
			want Status
			word string
		}{
			{"wrong password", other.Login("alice", "not her password"), ErrUnauthenticated, "wrong nickname or password"},
			{"invalid nickname", other.Register("Al ice", "pw"), ErrInvalidArgument, "nickname"},
			{"nickname taken", other.Register("alice", "another password"), ErrExists, "alice"},
			{"not logged in", func() error { _, err := other.Send("bob", "hi"); return err }(), ErrUnauthenticated, "log in"},
			{"unknown recipient", func() error { _, err := alice.Send("nobody_here", "hi"); return err }(), ErrNotFound, "nobody_here"},
		}
		for _, c := range cases {
			var e *Error
			if !errors.Is(c.err, c.want) || !errors.As(c.err, &e) || !strings.Contains(e.Detail, c.word) {
				t.Errorf("%s: expected %v (%d) with a detail mentioning %q, got %#v", c.what, c.want, int(c.want), c.word, c.err)
			}
			if errors.Is(c.err, ErrInternal) {
				t.Errorf("%s: %v must not match ErrInternal", c.what, c.err)
			}
		}
		other.Close()
		if _, err := other.Whoami(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("a closed client: expected ErrInvalidArgument, got %v", err)
		}
	})

	t.Run("a receiver runs until its context is cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r, err := bob.Receive(ctx)
		if err != nil {
			t.Fatalf("bob.Receive: %v", err)
		}
		if _, err := bob.Receive(ctx); !errors.Is(err, ErrExists) {
			t.Errorf("a second Receive while one runs: expected ErrExists, got %v", err)
		}
		id, err := alice.Send("bob", "hello bob, from Go")
		if err != nil {
			t.Fatalf("alice sends: %v", err)
		}
		select {
		case m := <-r.Messages:
			if m.ID != id || m.From != "alice" || m.Text != "hello bob, from Go" || m.State != Received {
				t.Errorf("bob's receiver: expected %s from alice, got %+v", id, m)
			}
		case <-time.After(deadline):
			t.Fatalf("bob's receiver: nothing within %v", deadline)
		}
		if r.Err() != nil {
			t.Errorf("Err while running: expected nil, got %v", r.Err())
		}
		cancel()
		select {
		case <-r.Done():
		case <-time.After(deadline):
			t.Fatalf("the receiver did not stop within %v of its context's cancellation", deadline)
		}
		if _, open := <-r.Messages; open {
			t.Errorf("Messages: expected closed after the cancellation")
		}
		if !errors.Is(r.Err(), context.Canceled) {
			t.Errorf("Err after cancel: expected context.Canceled, got %v", r.Err())
		}
		// Stopped for real: the next message waits in the mailbox.
		id2, err := alice.Send("bob", "second")
		if err != nil {
			t.Fatalf("alice sends again: %v", err)
		}
		until := time.Now().Add(deadline)
		for {
			got, err := bob.ReceiveOnce(time.Second)
			if err != nil {
				t.Fatalf("bob.ReceiveOnce: %v", err)
			}
			if len(got) == 1 && got[0].ID == id2 {
				break
			}
			if len(got) != 0 || time.Now().After(until) {
				t.Fatalf("bob.ReceiveOnce: expected %s, got %+v", id2, got)
			}
		}
	})

	t.Run("a receiver with a deadline stops at it", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		r, err := bob.Receive(ctx)
		if err != nil {
			t.Fatalf("bob.Receive: %v", err)
		}
		select {
		case <-r.Done():
		case <-time.After(deadline):
			t.Fatalf("the receiver outlived its deadline by %v", deadline)
		}
		if !errors.Is(r.Err(), context.DeadlineExceeded) {
			t.Errorf("Err: expected context.DeadlineExceeded, got %v", r.Err())
		}
	})

	t.Run("history, chats and contacts", func(t *testing.T) {
		h, err := alice.History("bob", "", 0)
		if err != nil || len(h) != 2 || !h[0].Outgoing {
			t.Fatalf("alice's history with bob: expected her 2 messages, got %+v, %v", h, err)
		}
		chats, err := bob.Chats()
		if err != nil || len(chats) != 1 || chats[0].Peer != "alice" || chats[0].Last == nil {
			t.Fatalf("bob's chats: expected one with alice, got %+v, %v", chats, err)
		}
		if err := bob.AddContact("alice", "Al"); err != nil {
			t.Fatalf("AddContact: %v", err)
		}
		contacts, err := bob.Contacts()
		if err != nil || len(contacts) != 1 || contacts[0].Alias != "Al" || contacts[0].KeyChanged {
			t.Fatalf("bob's contacts: expected alice as Al, got %+v, %v", contacts, err)
		}
		if err := bob.RemoveContact("carol"); !errors.Is(err, ErrNotFound) {
			t.Errorf("RemoveContact of a stranger: expected ErrNotFound, got %v", err)
		}
		if who, err := bob.Resolve("al"); err != nil || who != "alice" {
			t.Errorf("Resolve of the alias: expected alice, got %q, %v", who, err)
		}
		mine, err := alice.SafetyNumber()
		if err != nil || len(mine) != 23 || contacts[0].SafetyNumber != mine {
			t.Errorf("alice's safety number %q (%v) should be what bob pinned: %+v", mine, err, contacts[0])
		}
		seen, err := alice.CheckUser("bob")
		if err != nil || seen.Nickname != "bob" || seen.SafetyNumber == "" {
			t.Errorf("CheckUser(bob): got %+v, %v", seen, err)
		}
		if _, err := alice.CheckUser("nobody_here"); !errors.Is(err, ErrNotFound) {
			t.Errorf("CheckUser of a stranger: expected ErrNotFound, got %v", err)
		}
		if err := bob.SetReadReceipts(false); err != nil {
			t.Fatalf("SetReadReceipts: %v", err)
		}
		if on, err := bob.ReadReceipts(); err != nil || on {
			t.Errorf("ReadReceipts after turning them off: got %v, %v", on, err)
		}
		if up, err := bob.Reachable(); err != nil || !up {
			t.Errorf("Reachable with the ring up: got %v, %v", up, err)
		}
	})

	t.Run("a second device is listed, and removed", func(t *testing.T) {
		laptop, err := Open(ClientOptions{DataDir: t.TempDir(), Servers: []string{nodes[2].Address()}, DiscoveryPort: -1,
			KDFOpsLimit: 1, KDFMemLimit: 8192, DeviceName: "laptop"})
		if err != nil {
			t.Fatalf("open the laptop: %v", err)
		}
		defer laptop.Close()
		if err := laptop.Login("bob", "bob's password"); err != nil {
			t.Fatalf("the laptop logs in: %v", err)
		}
		devices, err := bob.Devices()
		if err != nil || len(devices) != 2 || !devices[0].ThisDevice || devices[1].Name != "laptop" || devices[1].ThisDevice {
			t.Fatalf("bob's devices: expected this one and the laptop, got %+v, %v", devices, err)
		}
		if err := bob.RemoveDevice(devices[1].ID); err != nil {
			t.Fatalf("RemoveDevice: %v", err)
		}
		if err := bob.RemoveDevice(devices[1].ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("removing it again: expected ErrNotFound, got %v", err)
		}
		if _, err := laptop.ReceiveOnce(0); !errors.Is(err, ErrForbidden) {
			t.Errorf("the removed laptop receives: expected ErrForbidden, got %v", err)
		}
		if who, _ := laptop.Whoami(); who != "" {
			t.Errorf("the removed laptop: expected logged out, got %q", who)
		}
	})
}
