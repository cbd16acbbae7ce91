// Receiver: the background receiver, as channels that close when its context is done.

package dwhatsapp

/*
#include <stdint.h>
#include <stdlib.h>
#include <dwhatsapp/dwhatsapp.h>

dws_status dwsgo_start_receiving(dws_client_t *client, uintptr_t handle);
*/
import "C"

import (
	"context"
	"runtime/cgo"
)

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
