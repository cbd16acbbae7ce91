#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <signal.h>

int main(int argc, char** argv) {
  // cpp-httplib's TLS client writes with SSL_write on a plain socket, which
  // raises SIGPIPE when the peer has closed; the launchers ignore it the
  // same way (a closed peer is an error to report, not a reason to die).
  signal(SIGPIPE, SIG_IGN);
  doctest::Context context(argc, argv);
  return context.run();
}
