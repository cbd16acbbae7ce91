// Node: a ring member in this process.

package dwhatsapp

/*
#include <stdint.h>
#include <stdlib.h>
#include <dwhatsapp/dwhatsapp.h>

void dwsgo_set_log(dws_node_options *options, uintptr_t handle);
*/
import "C"

import (
	"runtime/cgo"
	"time"
	"unsafe"
)

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
