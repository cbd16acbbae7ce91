/**
 * @file dwhatsapp.h
 * @brief The C ABI of libdwhatsapp: a ring member (dws_node_t) and an
 * account on the ring (dws_client_t), for C, Python (ctypes), Go (cgo) and
 * any other language with a C FFI. Compiles as C99 and as C++.
 *
 * Conventions, for every function below:
 *  - A fallible call returns a #dws_status; #DWS_OK (0) is success and the
 *    negative codes mirror the HTTP errors of the node API. On failure
 *    dws_last_error() holds a sentence for people saying what was wrong and
 *    what to do, for the calling thread, until that thread's next dws_ call.
 *  - Results go to out-parameters, which are written only on success.
 *  - Every pointer argument is required unless its description says it may
 *    be NULL: a NULL handle or argument is #DWS_ERR_INVALID_ARGUMENT with a
 *    detail naming the argument, never a crash.
 *  - Strings are UTF-8 and NUL-terminated. Strings the library hands out
 *    (char **) are the caller's, released with dws_free(); lists have a free
 *    function of their own. Nothing the caller passes in is kept after the
 *    call returns (option strings are copied).
 *  - Options structs start with their size and are filled with defaults by
 *    their _init() function, so that they can grow without breaking
 *    programs built against an older header.
 *  - Callbacks take their user_data last; each says on which thread it runs.
 */
#ifndef DWHATSAPP_H
#define DWHATSAPP_H

#include <stddef.h>
#include <stdint.h>

#include "dwhatsapp/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Result of every fallible call; negative values mirror the HTTP errors. */
typedef enum dws_status {
  DWS_OK = 0,
  DWS_ERR_INVALID_ARGUMENT = -1,  /**< 400: a NULL, malformed or out-of-range argument */
  DWS_ERR_UNAUTHENTICATED = -2,   /**< 401: wrong password, not logged in */
  DWS_ERR_FORBIDDEN = -3,         /**< 403: e.g. a contact's key changed */
  DWS_ERR_NOT_FOUND = -4,         /**< 404: e.g. no such user */
  DWS_ERR_EXISTS = -5,            /**< 409: e.g. nickname taken */
  DWS_ERR_PAYLOAD_TOO_LARGE = -6, /**< 413 */
  DWS_ERR_NOT_RESPONSIBLE = -7,   /**< 421: a node does not own the key */
  DWS_ERR_RATE_LIMITED = -8,      /**< 429: retry later */
  DWS_ERR_UNAVAILABLE = -9,       /**< 503: no server reachable, port busy, node stopped */
  DWS_ERR_INTERNAL = -10          /**< a bug or an environment failure (disk, memory) */
} dws_status;

/** @brief Where a message is in its life (the dws::Delivery values). */
typedef enum dws_delivery {
  DWS_DELIVERY_SENDING = 0,   /**< handed to send, not yet stored by the ring */
  DWS_DELIVERY_STORED = 1,    /**< the ring acknowledged its copies */
  DWS_DELIVERY_DELIVERED = 2, /**< the recipient's client sent a receipt */
  DWS_DELIVERY_RECEIVED = 3,  /**< an incoming message (this client is the recipient) */
  DWS_DELIVERY_READ = 4,      /**< the recipient's client said it was read */
  DWS_DELIVERY_QUEUED = 5     /**< no server was reachable: kept in the outbox, sent later */
} dws_delivery;

/** @brief The library version, "major.minor.patch". Static storage. */
DWS_API const char *dws_version(void);

/** @brief A short English description of a status code. Static storage. */
DWS_API const char *dws_strerror(dws_status code);

/**
 * @brief The detail of the last failed call on the calling thread: "" when
 * that thread's last call returning a #dws_status succeeded (or it made none).
 * Inside a #dws_error_fn it is that callback's detail.
 * Valid until the calling thread's next dws_ call.
 */
DWS_API const char *dws_last_error(void);

/** @brief Releases a string (or other memory) the library handed to the caller. NULL is ignored. */
DWS_API void dws_free(void *ptr);

/**
 * @brief A running ring member: HTTP server, stabilization, replicated
 * record store, discovery responder.
 *
 * A dws_node_t is safe for concurrent use from multiple threads, except that
 * dws_node_free() must not race with any other call on the same handle.
 */
typedef struct dws_node dws_node_t; /* opaque */

/**
 * @brief Receives one log line (without newline) of a node.
 * Runs on the node's threads (any of them, concurrently); must not call
 * dws_node_stop() or dws_node_free() on that node.
 */
typedef void (*dws_log_fn)(const char *line, void *user_data);

/** @brief How a node runs. Fill with dws_node_options_init(), then set fields. */
typedef struct dws_node_options {
  size_t size;                  /* set by dws_node_options_init */
  const char *listen;           /* "host:port", port 0 = any free port; default "127.0.0.1:0" */
  const char *advertise;        /* NULL = the listen address */
  const char *data_dir;         /* NULL = nothing kept on disk */
  const char *peer;             /* NULL = start a new ring; else join through this member */
  const char *ring_secret_file; /* the private ring's secret; NULL = none / created by a new ring */
  int stabilize_ms;             /* 0 = default */
  int discovery_port;           /* 0 = discovery off; default 37020 */
  /* Fields below this line are additions to the core set. */
  int open_ring;                /* nonzero: a new ring anyone may join (no secret) */
  const char *tls_cert;         /* PEM certificate chain: serve HTTPS; NULL = HTTP */
  const char *tls_key;          /* PEM private key of tls_cert */
  const char *tls_ca;           /* PEM CA bundle peers' certificates must chain to */
  const char *ring_name;        /* NULL = "dwhatsapp" for a new ring, the ring's when joining */
  int replicas;                 /* copies per record; 0 = default (3) or the ring's */
  int successors;               /* successor list length; 0 = default (4) or the ring's */
  int http_threads;             /* 0 = default (16) */
  int sync_ms;                  /* anti-entropy period; 0 = default (5000) */
  int fsync;                    /* nonzero: every write durable before it is acknowledged */
  int flush_ms;                 /* flush period when fsync is 0; 0 = default (100) */
  uint64_t map_size;            /* LMDB map size in bytes; 0 = default (64 GiB) */
  int64_t message_ttl_s;        /* undelivered message lifetime; 0 = default (30 days) */
  uint32_t mailbox_quota;       /* live messages per mailbox; 0 = default (10000) */
  const char *log_level;        /* "error", "warn", "info" (default) or "debug" */
  dws_log_fn log;               /* NULL = log lines go to stderr */
  void *log_user_data;          /* handed to log */
  const char *discovery_broadcast; /* where a join without peer broadcasts; NULL = "255.255.255.255" */
  int vnodes;                   /* ring positions (virtual nodes), 1..64; 0 = default (1) */
} dws_node_options;

/**
 * @brief Fills @p options with the defaults and sets its size.
 * @param[out] options The struct to fill. NULL is ignored.
 */
DWS_API void dws_node_options_init(dws_node_options *options);

/**
 * @brief Starts a node: a new ring of one when options->peer is NULL, else
 * joins the ring through options->peer ("host:port"); an empty peer ("")
 * finds a member by UDP broadcast discovery on options->discovery_port.
 * Returns when the node serves (and, when joining, has joined).
 * @param[in] options Filled by dws_node_options_init(); copied.
 * @param[out] node The running node; release it with dws_node_free().
 * @return #DWS_OK, or
 *  - #DWS_ERR_INVALID_ARGUMENT: NULL argument, options->size too small, a
 *    malformed address, or an option that conflicts with the ring's;
 *  - #DWS_ERR_UNAVAILABLE: the port is busy, the peer does not answer,
 *    nothing was discovered;
 *  - #DWS_ERR_INTERNAL: the data directory cannot be opened.
 */
DWS_API dws_status dws_node_start(const dws_node_options *options, dws_node_t **node);

/**
 * @brief The advertised "host:port" (also after dws_node_stop()).
 * @param[out] address Set to a new string: dws_free() it.
 * @return #DWS_OK or #DWS_ERR_INVALID_ARGUMENT (NULL argument).
 */
DWS_API dws_status dws_node_address(const dws_node_t *node, char **address); /* dws_free() it */

/**
 * @brief The ring id, derived from the advertised address (also after dws_node_stop()).
 * @param[out] id The 64-bit id.
 * @return #DWS_OK or #DWS_ERR_INVALID_ARGUMENT.
 */
DWS_API dws_status dws_node_id(const dws_node_t *node, uint64_t *id);

/**
 * @brief Graceful stop: hands this node's records to its successor, tells
 * its neighbours, stops serving and flushes the store. Idempotent; the
 * handle stays valid (for address and id) until dws_node_free().
 * REQUIRES: not called from a dws_log_fn of this node.
 * @return #DWS_OK or #DWS_ERR_INVALID_ARGUMENT (NULL node).
 */
DWS_API dws_status dws_node_stop(dws_node_t *node);

/**
 * @brief Stops at once without telling anyone, as a crash would (for tests
 * of failure handling). Idempotent, like dws_node_stop().
 * @return #DWS_OK or #DWS_ERR_INVALID_ARGUMENT (NULL node).
 */
DWS_API dws_status dws_node_halt(dws_node_t *node);

/**
 * @brief Stops the node if it still runs (gracefully) and releases it.
 * The handle must not be used afterwards. NULL is ignored.
 */
DWS_API void dws_node_free(dws_node_t *node); /* NULL is ignored */

/** @brief A ring member as others see it. This struct will not grow. */
typedef struct dws_peer {
  uint64_t id;
  const char *address; /* "host:port"; NULL for an unknown finger */
} dws_peer;

/** @brief One node's view of the ring. May grow at its end. */
typedef struct dws_ring_view {
  dws_peer self;
  int has_predecessor;    /* 0: predecessor is unknown (and its address NULL) */
  dws_peer predecessor;
  const dws_peer *successors; /* successors[0..successors_len), nearest first */
  size_t successors_len;
  const dws_peer *fingers;    /* fingers[i] = successor(self + 2^i); address NULL when unknown */
  size_t fingers_len;
} dws_ring_view;

/**
 * @brief This node's current view: predecessor, successors, fingers.
 * @param[out] view Set to a new view: release it with dws_ring_view_free().
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT, or #DWS_ERR_UNAVAILABLE (the node is stopped).
 */
DWS_API dws_status dws_node_view(const dws_node_t *node, dws_ring_view **view);

/** @brief Releases a view from dws_node_view(). NULL is ignored. */
DWS_API void dws_ring_view_free(dws_ring_view *view);

/** @brief Records a node holds, by role. */
typedef struct dws_record_counts {
  uint64_t primary; /* ring ids in (predecessor, self] */
  uint64_t replica; /* copies of the predecessors' ranges */
} dws_record_counts;

/**
 * @brief How many records this node holds as primary and as replica.
 * @param[out] counts Filled on success.
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT, or #DWS_ERR_UNAVAILABLE (the node is stopped).
 */
DWS_API dws_status dws_node_record_counts(const dws_node_t *node, dws_record_counts *counts);

/**
 * @brief The node's metrics in the Prometheus text format, as GET /metrics serves them.
 * @param[out] text Set to a new string: dws_free() it.
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT, or #DWS_ERR_UNAVAILABLE (the node is stopped).
 */
DWS_API dws_status dws_node_metrics(const dws_node_t *node, char **text);

/**
 * @brief An account on the ring with its local store of contacts, chats and
 * history, and an optional background receiver.
 *
 * A dws_client_t is safe for concurrent use from multiple threads, except
 * that dws_client_free() must not race with any other call on the same handle.
 */
typedef struct dws_client dws_client_t; /* opaque */

/** @brief How a client runs. Fill with dws_client_options_init(), then set fields. */
typedef struct dws_client_options {
  size_t size;                /* set by dws_client_options_init */
  const char *data_dir;       /* the local store; created when missing; required */
  const char *const *servers; /* "host:port" each */
  size_t servers_len;
  /* Fields below this line are additions to the core set. */
  const char *ring_name;      /* for discovery; NULL = "dwhatsapp" */
  int discovery_port;         /* UDP discovery when no server is known; default 37020 */
  const char *tls_ca;         /* PEM CA bundle: talk HTTPS to servers; NULL = HTTP */
  int read_receipts;          /* nonzero (default): dws_client_mark_read() sends "read" receipts */
  int request_timeout_ms;     /* per request; 0 = default (5000) */
  int poll_wait_s;            /* long-poll wait of the background receiver; default 20 */
  uint64_t kdf_opslimit;      /* argon2id cost of new passwords; 0 = libsodium's interactive */
  uint64_t kdf_memlimit;      /* in bytes; 0 = libsodium's interactive (64 MiB) */
  const char *discovery_broadcast; /* where discovery broadcasts; NULL = "255.255.255.255" */
  const char *device_name;    /* what dws_client_devices() shows for this device; NULL = the host's name */
} dws_client_options;

/**
 * @brief Fills @p options with the defaults and sets its size.
 * @param[out] options The struct to fill. NULL is ignored.
 */
DWS_API void dws_client_options_init(dws_client_options *options);

/**
 * @brief Opens (or creates) a client's data directory. Contacts no server.
 * A login made earlier with this data directory is still in effect.
 * @param[in] options Filled by dws_client_options_init(); copied.
 * @param[out] client The client; release it with dws_client_free().
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT (NULL argument, no data_dir,
 * options->size too small, bad KDF limits) or #DWS_ERR_INTERNAL (the store
 * cannot be opened, e.g. another process has it open).
 */
DWS_API dws_status dws_client_open(const dws_client_options *options, dws_client_t **client);

/**
 * @brief Stops the background receiver (waiting for it) and releases the
 * client. The handle must not be used afterwards. NULL is ignored.
 * REQUIRES: not called from one of this client's callbacks.
 */
DWS_API void dws_client_free(dws_client_t *client); /* NULL is ignored */

/**
 * @brief Creates the account on the ring and logs in.
 * @return #DWS_OK, or
 *  - #DWS_ERR_INVALID_ARGUMENT: NULL argument, a nickname outside
 *    a-z, 0-9, '_', '.', '-' (1 to 32 of them), an empty password;
 *  - #DWS_ERR_EXISTS: the nickname is taken;
 *  - #DWS_ERR_UNAVAILABLE: no server reachable (the detail lists those tried).
 */
DWS_API dws_status dws_client_register(dws_client_t *client, const char *nickname, const char *password);

/**
 * @brief dws_client_register() with a display name shown to contacts.
 * @param[in] display_name May be NULL (none).
 */
DWS_API dws_status dws_client_register_named(dws_client_t *client, const char *nickname, const char *password,
                                             const char *display_name);

/**
 * @brief Recovers the account from the ring with its password (on any device).
 * @return #DWS_OK, or #DWS_ERR_INVALID_ARGUMENT (NULL argument, malformed
 * nickname), #DWS_ERR_UNAUTHENTICATED ("wrong nickname or password"),
 * #DWS_ERR_RATE_LIMITED (too many failures: retry later), #DWS_ERR_UNAVAILABLE.
 */
DWS_API dws_status dws_client_login(dws_client_t *client, const char *nickname, const char *password);

/**
 * @brief Stops the background receiver and forgets the unlocked key; the
 * local history stays.
 * REQUIRES: not called from one of this client's callbacks.
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT or #DWS_ERR_INTERNAL.
 */
DWS_API dws_status dws_client_logout(dws_client_t *client);

/**
 * @brief The logged-in nickname.
 * @param[out] nickname Set to a new string (dws_free() it), or to NULL when
 * nobody is logged in.
 * @return #DWS_OK or #DWS_ERR_INVALID_ARGUMENT.
 */
DWS_API dws_status dws_client_whoami(const dws_client_t *client, char **nickname);

/**
 * @brief Re-seals the account's key under a new password (a signed update on the ring).
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT (empty new password),
 * #DWS_ERR_UNAUTHENTICATED (not logged in, or old_password wrong), #DWS_ERR_UNAVAILABLE.
 */
DWS_API dws_status dws_client_change_password(dws_client_t *client, const char *old_password,
                                              const char *new_password);

/**
 * @brief Deletes the account and its mailbox from the ring, then logs out.
 * REQUIRES: not called from one of this client's callbacks.
 * @return #DWS_OK, #DWS_ERR_UNAUTHENTICATED (not logged in, wrong password), #DWS_ERR_UNAVAILABLE.
 */
DWS_API dws_status dws_client_delete_account(dws_client_t *client, const char *password);

/**
 * @brief Encrypts, signs and stores a text message for @p to on the ring.
 * @param[in] to A nickname, contact or not.
 * @param[out] message_id Set to the message id (32 hex digits) once the ring
 * holds the message: dws_free() it.
 * @return #DWS_OK, or #DWS_ERR_INVALID_ARGUMENT (NULL argument, malformed
 * nickname), #DWS_ERR_NOT_FOUND (no such user), #DWS_ERR_PAYLOAD_TOO_LARGE,
 * #DWS_ERR_FORBIDDEN (the contact's key changed: add the contact again to
 * trust the new key), #DWS_ERR_UNAUTHENTICATED (not logged in), #DWS_ERR_UNAVAILABLE.
 */
DWS_API dws_status dws_client_send(dws_client_t *client, const char *to, const char *text, char **message_id);

/**
 * @brief One message. Handed to a callback, it and its strings are valid
 * during the callback only; in a #dws_message_list, until the list is freed.
 * May grow at its end.
 */
typedef struct dws_message {
  const char *id, *from, *to, *text; /* valid during the callback only */
  int64_t sent_at;                   /* unix ms */
  int state;                         /* the dws::Delivery value */
  int outgoing;
  /* Additions to the core set. */
  int64_t received_at;               /* unix ms, this client's clock; 0 for outgoing */
} dws_message;

/**
 * @brief Receives a message from the background receiver (or, as the
 * on_state callback, an outgoing message whose state changed).
 * Runs on the client's receiver thread, one call at a time. May call any
 * function of this client except dws_client_start_receiving(),
 * dws_client_start_receiving_with(), dws_client_stop_receiving(),
 * dws_client_logout(), dws_client_delete_account() and dws_client_free().
 */
typedef void (*dws_message_fn)(const dws_message *message, void *user_data);

/**
 * @brief Reports a failed receive cycle (the ring unreachable, ...); the
 * receiver backs off and tries again. @p detail is valid during the call only.
 * Runs on the client's receiver thread, with the same rules as #dws_message_fn.
 */
typedef void (*dws_error_fn)(dws_status code, const char *detail, void *user_data);

/** @brief The background receiver's callbacks. Fill with dws_receive_callbacks_init(). */
typedef struct dws_receive_callbacks {
  size_t size;             /* set by dws_receive_callbacks_init */
  dws_message_fn on_message; /* once per new incoming text message, in mailbox order; may be NULL */
  dws_message_fn on_state;   /* an outgoing message changed state (delivered, read); may be NULL */
  dws_error_fn on_error;     /* a receive cycle failed; may be NULL */
  void *user_data;           /* handed to each */
} dws_receive_callbacks;

/** @brief Sets every callback to NULL and sets the size. NULL is ignored. */
DWS_API void dws_receive_callbacks_init(dws_receive_callbacks *callbacks);

/**
 * @brief Starts the background receiver: a thread that long-polls the
 * mailbox, stores each new message locally, acknowledges it and calls
 * @p on_message once per message id. Already receiving: the receiver is
 * stopped first, so that when this returns the old callbacks are done.
 * The callback and @p user_data stay in use until dws_client_stop_receiving(),
 * dws_client_logout(), dws_client_delete_account() or dws_client_free() returns.
 * REQUIRES: not called from one of this client's callbacks.
 * @param[in] on_message May be NULL (messages are then only stored).
 * @param[in] user_data Handed to on_message; may be NULL.
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT or #DWS_ERR_UNAUTHENTICATED (not logged in).
 */
DWS_API dws_status dws_client_start_receiving(dws_client_t *client, dws_message_fn on_message, void *user_data);

/**
 * @brief dws_client_start_receiving() with every callback: messages, state
 * changes of outgoing messages, and receiver errors.
 * @param[in] callbacks Filled by dws_receive_callbacks_init(); copied.
 */
DWS_API dws_status dws_client_start_receiving_with(dws_client_t *client, const dws_receive_callbacks *callbacks);

/**
 * @brief Stops the background receiver and waits for it (cancelling its
 * long poll): when this returns no callback runs. Idempotent; NULL is ignored.
 * REQUIRES: not called from one of this client's callbacks.
 */
DWS_API void dws_client_stop_receiving(dws_client_t *client);

/** @brief Messages handed out by the library. May grow at its end. */
typedef struct dws_message_list {
  const dws_message *const *items; /* items[0..count) */
  size_t count;
} dws_message_list;

/** @brief Releases a list of messages. NULL is ignored. */
DWS_API void dws_message_list_free(dws_message_list *list);

/**
 * @brief One receive cycle on the calling thread: fetches the mailbox
 * (waiting up to @p wait_s seconds when it is empty), verifies, decrypts,
 * stores, acknowledges, and returns the new text messages (each id once).
 * Calls no callback.
 * @param[in] wait_s 0 to 60 seconds.
 * @param[out] messages Set to a new list: dws_message_list_free() it.
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT, #DWS_ERR_UNAUTHENTICATED (not logged in), #DWS_ERR_UNAVAILABLE.
 */
DWS_API dws_status dws_client_receive(dws_client_t *client, int wait_s, dws_message_list **messages);

/** @brief A contact: a nickname with the public key pinned on first use. May grow at its end. */
typedef struct dws_contact {
  const char *nickname;
  const char *alias;        /* "" when none */
  const char *public_key;   /* base64 of the pinned Ed25519 key */
  const char *display_name; /* "" when none */
  int key_changed;          /* nonzero: the ring shows another key; messages from it are refused
                               until the contact is added again */
  const char *safety_number; /* 20 digits in four groups, from the pinned key: compare out of band */
} dws_contact;

/** @brief Contacts handed out by the library. May grow at its end. */
typedef struct dws_contact_list {
  const dws_contact *const *items; /* items[0..count) */
  size_t count;
} dws_contact_list;

/** @brief Releases a list of contacts. NULL is ignored. */
DWS_API void dws_contact_list_free(dws_contact_list *list);

/** @brief Releases one contact (from dws_client_check_user()). NULL is ignored. */
DWS_API void dws_contact_free(dws_contact *contact);

/**
 * @brief Checks with the ring that @p name (a nickname or a contact's alias)
 * is a user, pins its key on first sight (which makes it a contact), and
 * returns what is known of it, for the caller to dws_contact_free().
 * @return #DWS_OK, #DWS_ERR_NOT_FOUND ("no user 'dave' on the ring"),
 * #DWS_ERR_FORBIDDEN (its key changed), #DWS_ERR_INVALID_ARGUMENT, #DWS_ERR_UNAVAILABLE.
 */
DWS_API dws_status dws_client_check_user(dws_client_t *client, const char *name, dws_contact **contact);

/**
 * @brief The nickname @p name stands for: a contact's nickname, else the
 * contact whose alias it is (ignoring case), else @p name as a nickname.
 * Every call that takes a peer accepts an alias the same way.
 * @param[out] nickname dws_free() it.
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT (neither a nickname nor an alias).
 */
DWS_API dws_status dws_client_resolve(const dws_client_t *client, const char *name, char **nickname);

/**
 * @brief The safety number of the logged-in account's key, to compare with
 * a contact's dws_contact::safety_number out of band.
 * @param[out] number dws_free() it; NULL when nobody is logged in.
 */
DWS_API dws_status dws_client_safety_number(const dws_client_t *client, char **number);

/**
 * @brief The safety number of any public key (base64).
 * @param[out] number dws_free() it.
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT (NULL or not a public key).
 */
DWS_API dws_status dws_safety_number_of(const char *public_key, char **number);

/**
 * @brief Turns "read" receipts on or off (saved in the data directory; off
 * there or in dws_client_options::read_receipts means off).
 */
DWS_API dws_status dws_client_set_read_receipts(dws_client_t *client, int on);

/** @brief Whether read receipts are on (*on nonzero). */
DWS_API dws_status dws_client_read_receipts(const dws_client_t *client, int *on);

/** @brief Whether the last attempt to reach the ring found a server (*reachable nonzero). */
DWS_API dws_status dws_client_reachable(const dws_client_t *client, int *reachable);

/** @brief The longest text dws_client_send() accepts, in bytes of UTF-8. */
DWS_API size_t dws_client_max_text_bytes(void);

/**
 * @brief Checks that the user exists on the ring and pins its key; adding a
 * contact whose key changed again accepts the new key.
 * @param[in] alias May be NULL (none).
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT, #DWS_ERR_NOT_FOUND (no such user),
 * #DWS_ERR_FORBIDDEN (the key changed since it was pinned: add again to accept it), #DWS_ERR_UNAVAILABLE.
 */
DWS_API dws_status dws_client_add_contact(dws_client_t *client, const char *nickname, const char *alias);

/**
 * @brief Every contact, by nickname.
 * @param[out] contacts Set to a new list: dws_contact_list_free() it.
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT or #DWS_ERR_INTERNAL.
 */
DWS_API dws_status dws_client_contacts(const dws_client_t *client, dws_contact_list **contacts);

/**
 * @brief Forgets a contact (its pinned key stays, so a later key change is still noticed).
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT or #DWS_ERR_NOT_FOUND (not a contact).
 */
DWS_API dws_status dws_client_remove_contact(dws_client_t *client, const char *nickname);

/** @brief A conversation. May grow at its end. */
typedef struct dws_chat {
  const char *peer;
  const dws_message *last; /* the last message; NULL when there is none */
  int unread;
  const char *alias;        /* the contact's alias, "" when none */
  const char *display_name; /* the peer's display name, "" when unknown */
} dws_chat;

/** @brief Chats handed out by the library. May grow at its end. */
typedef struct dws_chat_list {
  const dws_chat *const *items; /* items[0..count), most recent first */
  size_t count;
} dws_chat_list;

/** @brief Releases a list of chats. NULL is ignored. */
DWS_API void dws_chat_list_free(dws_chat_list *list);

/**
 * @brief Every conversation, most recent first.
 * @param[out] chats Set to a new list: dws_chat_list_free() it.
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT or #DWS_ERR_INTERNAL.
 */
DWS_API dws_status dws_client_chats(const dws_client_t *client, dws_chat_list **chats);

/**
 * @brief Messages with @p peer, oldest first, newest last.
 * @param[in] before A message id: only older messages; NULL or "" = the newest.
 * @param[in] limit At most this many; 0 or less = 50.
 * @param[out] messages Set to a new list: dws_message_list_free() it.
 * @return #DWS_OK, #DWS_ERR_INVALID_ARGUMENT (NULL argument, malformed nickname or id), #DWS_ERR_INTERNAL.
 */
DWS_API dws_status dws_client_history(const dws_client_t *client, const char *peer, const char *before, int limit,
                                      dws_message_list **messages);

/**
 * @brief Sets the unread count of the chat with @p peer to zero.
 * @return #DWS_OK (also when there is no chat with peer yet: nothing to mark), #DWS_ERR_INVALID_ARGUMENT.
 */
DWS_API dws_status dws_client_mark_read(dws_client_t *client, const char *peer);

/** @brief Strings handed out by the library. May grow at its end. */
typedef struct dws_string_list {
  const char *const *items; /* items[0..count) */
  size_t count;
} dws_string_list;

/**
 * @brief One device of the account: every device logged in to it receives
 * every message, and sees what the others sent.
 */
typedef struct dws_device {
  const char *id;   /* 16 hex digits, made once per data directory */
  const char *name; /* dws_client_options::device_name when it was added */
  int64_t added_at; /* unix ms */
  int this_device;  /* nonzero for the device of this client */
} dws_device;

/** @brief Devices handed out by the library. May grow at its end. */
typedef struct dws_device_list {
  const dws_device *const *items; /* items[0..count) */
  size_t count;
} dws_device_list;

/** @brief Releases a list of devices. NULL is ignored. */
DWS_API void dws_device_list_free(dws_device_list *list);

/**
 * @brief The account's devices as the ring lists them (signed by the
 * account's key, checked), oldest first.
 * @param[out] devices Set to a new list: dws_device_list_free() it.
 * @return #DWS_OK, #DWS_ERR_UNAUTHENTICATED (not logged in), #DWS_ERR_UNAVAILABLE.
 */
DWS_API dws_status dws_client_devices(dws_client_t *client, dws_device_list **devices);

/**
 * @brief Removes a device from the account: the ring gives it nothing new,
 * and it is logged out at its next mailbox fetch. Removing this client's own
 * device logs it out at once.
 * @return #DWS_OK, #DWS_ERR_NOT_FOUND (no such device), #DWS_ERR_INVALID_ARGUMENT,
 * #DWS_ERR_UNAUTHENTICATED, #DWS_ERR_UNAVAILABLE.
 */
DWS_API dws_status dws_client_remove_device(dws_client_t *client, const char *device_id);

/**
 * @brief This data directory's device id (16 hex digits).
 * @param[out] device_id Set to a new string: dws_free() it.
 */
DWS_API dws_status dws_client_device_id(const dws_client_t *client, char **device_id);

/** @brief Releases a list of strings. NULL is ignored. */
DWS_API void dws_string_list_free(dws_string_list *list);

/**
 * @brief The servers ("host:port") this client knows, most recently successful first.
 * @param[out] servers Set to a new list: dws_string_list_free() it.
 * @return #DWS_OK or #DWS_ERR_INVALID_ARGUMENT.
 */
DWS_API dws_status dws_client_servers(const dws_client_t *client, dws_string_list **servers);

#ifdef __cplusplus
}
#endif

#endif /* DWHATSAPP_H */
