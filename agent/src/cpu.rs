//! CPU time of the agent process, to tell when the client, not the server, was the bottleneck,
//! and how the machine idles its cores, which sets what a sleeping client waits to wake up.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

/// How this machine idles a core: the cpuidle driver Linux names in sysfs, and under the
/// `haltpoll` driver (KVM guests) how long the guest polls before it halts, e.g.
/// `haltpoll (guest_halt_poll_ns=0)`; empty where sysfs does not say. A vCPU that halts at once
/// is woken through the host, which on the benchmarks' guest tripled a GET round trip at
/// concurrency 1 (docs/benchmarks.md). Read from sysfs once, on the first call: Hello answers
/// with it, and a Hello's round trip is what the controller's clock-offset estimate times.
pub fn idle() -> &'static str {
    static IDLE: OnceLock<String> = OnceLock::new();
    IDLE.get_or_init(|| idle_from(Path::new("/sys")))
}

/// [`idle`] read under `sys` instead of `/sys`.
fn idle_from(sys: &Path) -> String {
    let read = |p: &str| std::fs::read_to_string(sys.join(p)).map(|s| s.trim().to_owned()).ok();
    let Some(driver) = read("devices/system/cpu/cpuidle/current_driver") else {
        return String::new();
    };
    match read("module/haltpoll/parameters/guest_halt_poll_ns") {
        Some(ns) if driver == "haltpoll" => format!("{driver} (guest_halt_poll_ns={ns})"),
        _ => driver,
    }
}

/// User plus system CPU time this process has used since it started.
#[allow(unsafe_code)]
pub fn process_cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a complete `rusage` into the pointer it is given, which points to
    // memory of exactly that type; RUSAGE_SELF is always a valid `who`.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    // SAFETY: getrusage succeeded, so it initialised the struct (and zeroed() already did).
    let usage = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_names_the_driver_and_the_guests_polling() {
        let sys = tempfile::tempdir().expect("tempdir");
        let write = |p: &str, text: &str| {
            let path = sys.path().join(p);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        assert_eq!(idle_from(sys.path()), "", "no cpuidle in sysfs");
        write("devices/system/cpu/cpuidle/current_driver", "intel_idle\n");
        write("module/haltpoll/parameters/guest_halt_poll_ns", "200000\n");
        assert_eq!(idle_from(sys.path()), "intel_idle", "the polling setting is haltpoll's alone");
        write("devices/system/cpu/cpuidle/current_driver", "haltpoll\n");
        assert_eq!(idle_from(sys.path()), "haltpoll (guest_halt_poll_ns=200000)");
        write("module/haltpoll/parameters/guest_halt_poll_ns", "0\n");
        assert_eq!(idle_from(sys.path()), "haltpoll (guest_halt_poll_ns=0)");
    }

    /// CPU time of the calling thread alone: what this test spends, whatever else runs.
    #[allow(unsafe_code)]
    fn thread_cpu_time() -> Duration {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes one `timespec` into the pointer, which points to one.
        let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
        assert!(ok, "the thread CPU clock: {}", std::io::Error::last_os_error());
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }

    #[test]
    fn grows_at_least_by_the_cpu_this_thread_spends() {
        // Spin for 50 ms of this thread's own CPU (however long that takes on a busy machine):
        // the process, which holds the thread, used at least that much.
        let before = process_cpu_time();
        let start = thread_cpu_time();
        let mut x = 0u64;
        while thread_cpu_time() - start < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let spent = thread_cpu_time() - start;
        let used = process_cpu_time() - before;
        // getrusage counts whole microseconds and splits user from system time by estimate.
        assert!(
            used + Duration::from_millis(1) >= spent,
            "the process used {used:?} of CPU while one of its threads used {spent:?}"
        );
    }
}
