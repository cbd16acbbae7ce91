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
*/
import "C"

import (
	"runtime"
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
