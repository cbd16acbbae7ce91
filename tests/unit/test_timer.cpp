// The timer thread: periodic tasks run repeatedly, never overlap themselves,
// and stop() returns only after a run in progress has finished.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "net/timer.hpp"
#include "support/test_support.hpp"

using namespace std::chrono_literals;

using dws::test::wait_for;

TEST_CASE("timer: a periodic task runs again and again, never overlapping itself") {
  dws::net::Timer timer;
  std::atomic<int> runs{0};
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  // The task takes longer than its period: a timer that did not wait for
  // the previous run would overlap it.
  timer.every(1ms, [&] {
    const int now = ++inside;
    if (now > max_inside) max_inside = now;
    std::this_thread::sleep_for(3ms);
    --inside;
    ++runs;
  });
  timer.start();
  CHECK_MESSAGE(wait_for([&] { return runs >= 10; }, 10s, 1ms), "expected 10 runs within 10 s, saw ", runs.load());
  timer.stop();
  CHECK(max_inside == 1);
  CHECK(inside == 0);
  const int after_stop = runs;
  std::this_thread::sleep_for(20ms);  // not synchronization: checks that nothing runs any more
  CHECK(runs == after_stop);
}

TEST_CASE("timer: stop() is idempotent and works before start()") {
  dws::net::Timer never_started;
  std::atomic<int> runs{0};
  never_started.every(1ms, [&] { ++runs; });
  never_started.stop();
  never_started.stop();
  CHECK(runs == 0);

  dws::net::Timer t;
  t.start();
  t.stop();
  t.stop();
}

TEST_CASE("timer: a task that throws does not stop the others") {
  dws::net::Timer timer;
  std::atomic<int> good{0};
  timer.every(20ms, [] { throw std::runtime_error("periodic failure (expected by the test)"); });
  timer.every(1ms, [&] { ++good; });
  timer.start();
  CHECK_MESSAGE(wait_for([&] { return good >= 5; }, 10s, 1ms), "expected 5 runs, saw ", good.load());
  timer.stop();
}
