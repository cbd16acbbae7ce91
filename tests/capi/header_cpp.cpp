// dwhatsapp.h compiles as C++ (inside extern "C" guards) and links; the
// core structs keep the field order the C ABI promises.
#include "dwhatsapp/dwhatsapp.h"

#include <cstddef>
#include <cstdio>
#include <string_view>
#include <type_traits>

static_assert(DWS_OK == 0, "DWS_OK is 0");
static_assert(std::is_same_v<decltype(dws_version()), const char*>, "dws_version returns const char*");
static_assert(std::is_same_v<decltype(&dws_node_start), dws_status (*)(const dws_node_options*, dws_node_t**)>);
static_assert(std::is_same_v<decltype(&dws_client_send),
                             dws_status (*)(dws_client_t*, const char*, const char*, char**)>);
static_assert(std::is_same_v<decltype(&dws_client_start_receiving),
                             dws_status (*)(dws_client_t*, dws_message_fn, void*)>);
static_assert(std::is_same_v<dws_message_fn, void (*)(const dws_message*, void*)>);
// The listed fields first, in the listed order; additions after them.
static_assert(offsetof(dws_node_options, size) == 0);
static_assert(offsetof(dws_node_options, listen) < offsetof(dws_node_options, advertise));
static_assert(offsetof(dws_node_options, advertise) < offsetof(dws_node_options, data_dir));
static_assert(offsetof(dws_node_options, data_dir) < offsetof(dws_node_options, peer));
static_assert(offsetof(dws_node_options, peer) < offsetof(dws_node_options, ring_secret_file));
static_assert(offsetof(dws_node_options, ring_secret_file) < offsetof(dws_node_options, stabilize_ms));
static_assert(offsetof(dws_node_options, stabilize_ms) < offsetof(dws_node_options, discovery_port));
static_assert(offsetof(dws_node_options, discovery_port) < offsetof(dws_node_options, open_ring));
static_assert(offsetof(dws_client_options, size) == 0);
static_assert(offsetof(dws_client_options, data_dir) < offsetof(dws_client_options, servers));
static_assert(offsetof(dws_client_options, servers) < offsetof(dws_client_options, servers_len));
static_assert(offsetof(dws_client_options, servers_len) < offsetof(dws_client_options, ring_name));
static_assert(offsetof(dws_message, id) == 0);
static_assert(offsetof(dws_message, text) < offsetof(dws_message, sent_at));
static_assert(offsetof(dws_message, sent_at) < offsetof(dws_message, state));
static_assert(offsetof(dws_message, state) < offsetof(dws_message, outgoing));
static_assert(offsetof(dws_message, outgoing) < offsetof(dws_message, received_at));
static_assert(DWS_DELIVERY_SENDING == 0 && DWS_DELIVERY_STORED == 1 && DWS_DELIVERY_DELIVERED == 2 &&
              DWS_DELIVERY_RECEIVED == 3 && DWS_DELIVERY_READ == 4 && DWS_DELIVERY_QUEUED == 5);

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s EXPECTED_VERSION\n", argv[0]);
    return 2;
  }
  std::string_view version = dws_version();
  if (version != argv[1]) {
    std::fprintf(stderr, "FAIL: expected version %s, saw %s\n", argv[1], dws_version());
    return 1;
  }
  std::string_view unavailable = dws_strerror(DWS_ERR_UNAVAILABLE);
  if (unavailable != "unavailable") {
    std::fprintf(stderr, "FAIL: expected \"unavailable\", saw \"%s\"\n", unavailable.data());
    return 1;
  }
  dws_node_options options;
  dws_node_options_init(&options);
  if (options.size != sizeof options || std::string_view(options.listen) != "127.0.0.1:0" ||
      options.discovery_port != 37020) {
    std::fprintf(stderr, "FAIL: dws_node_options_init: expected size %zu, listen 127.0.0.1:0, discovery 37020\n",
                 sizeof options);
    return 1;
  }
  std::printf("PASS: C++ header, dws_version %s\n", dws_version());
  return 0;
}
