package dwhatsapp

// The Go ends of bridge.c's trampolines. They run on the library's threads.

/*
#include <stdint.h>
#include <dwhatsapp/dwhatsapp.h>
*/
import "C"

import "runtime/cgo"

//export goOnMessage
func goOnMessage(m *C.dws_message, h C.uintptr_t) {
	r := cgo.Handle(h).Value().(*Receiver)
	msg := messageOf(m)
	// Blocks until the application takes it, or the receiver is stopped
	// (the message is in the history either way).
	select {
	case r.messages <- msg:
	case <-r.ctx.Done():
	}
}

//export goOnState
func goOnState(m *C.dws_message, h C.uintptr_t) {
	r := cgo.Handle(h).Value().(*Receiver)
	select {
	case r.states <- messageOf(m):
	default: // nobody reads them: drop rather than hold up the receiver
	}
}

//export goOnError
func goOnError(code C.int, detail *C.char, h C.uintptr_t) {
	r := cgo.Handle(h).Value().(*Receiver)
	select {
	case r.errors <- &Error{Status: Status(code), Detail: C.GoString(detail)}:
	default:
	}
}

//export goOnLog
func goOnLog(line *C.char, h C.uintptr_t) {
	cgo.Handle(h).Value().(func(string))(C.GoString(line))
}
