//! The broker runs on a stack of the size a deployment gives it, and a stack overflow there
//! is reported by libFuzzer as a crash, with its input saved.
//!
//! The size: the embedded broker (`verimqtt::runtime::EmbeddedBroker`) and tokio's worker
//! threads run on Rust's default thread stack, 2 MiB. libFuzzer runs inputs on the main
//! thread, whose stack is `ulimit -s` (8 MiB here): deep enough to hide a recursion over
//! topic levels that kills those brokers.
//!
//! The report: an overflow faults on the guard page below the stack, and the SIGSEGV handler
//! then needs a stack of its own to run on. Without a sanitizer nothing gives libFuzzer's
//! handler one, so the process dies silently and the input is lost. The thread running the
//! inputs therefore gets an alternate signal stack, and the SIGSEGV and SIGBUS handlers
//! (libFuzzer's, by the time the first input runs) are marked to use it.
//!
//! The broker's stack is mapped once per thread and reused by every input, on the same
//! thread: a thread per input costs a scheduling round trip, and a fresh mapping per input
//! (`stacker::grow`) its page faults; on a busy two-core machine they made `broker_session`
//! nine and two times slower.
//!
//! This is the only unsafe code of the fuzz targets: the libc calls std has no safe wrapper
//! for, and the switch to the stack.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::{io, ptr};

/// Rust's default for spawned threads, which tokio's worker threads use too.
const BROKER_STACK: usize = 2 * 1024 * 1024;

/// Room for libFuzzer's crash handler, which prints and writes the crashing input.
const SIGNAL_STACK: usize = 256 * 1024;

thread_local! {
    static STACKS: Stacks = Stacks::install();
}

/// Runs `run` on a stack of the broker's size, where an overflow is a reported crash.
pub fn on_broker_stack(run: impl FnOnce()) {
    static HANDLERS_ON_SIGNAL_STACK: Once = Once::new();
    HANDLERS_ON_SIGNAL_STACK.call_once(handle_crashes_on_signal_stack);
    STACKS.with(|stacks| {
        let mut outcome = Ok(());
        let run_caught = || outcome = panic::catch_unwind(AssertUnwindSafe(run));
        // SAFETY: the stack is page-aligned, its size a multiple of the page size, and it is
        // this thread's alone; nothing unwinds out of `run_caught`. Inputs do not nest, so
        // the stack is never entered twice.
        unsafe { psm::on_stack(stacks.broker, BROKER_STACK, run_caught) };
        if let Err(panic) = outcome {
            panic::resume_unwind(panic);
        }
    });
}

/// Marks the crash signals' handlers to run on the alternate stack of the thread that
/// faulted; a signal left to its default action stays so.
fn handle_crashes_on_signal_stack() {
    for signal in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: `action` is a valid out-parameter for sigaction, and is then passed back
        // unchanged but for one flag.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            check(libc::sigaction(signal, ptr::null(), &mut action), "sigaction");
            if action.sa_sigaction == libc::SIG_DFL || action.sa_sigaction == libc::SIG_IGN {
                continue;
            }
            action.sa_flags |= libc::SA_ONSTACK;
            check(libc::sigaction(signal, &action, ptr::null_mut()), "sigaction");
        }
    }
}

/// One thread's broker stack and alternate signal stack, kept for the thread's life.
struct Stacks {
    /// The lowest address of the broker's stack, right above its guard page.
    broker: *mut u8,
}

impl Stacks {
    fn install() -> Self {
        // SAFETY: a fresh anonymous mapping aliases nothing; the first page is made the guard
        // page, and the rest of the mapping is handed out as the two stacks. The mapping is
        // never unmapped, so the alternate stack stays valid as long as the thread runs.
        unsafe {
            let page = usize::try_from(libc::sysconf(libc::_SC_PAGESIZE)).expect("the page size is known");
            let len = page + BROKER_STACK + SIGNAL_STACK;
            let mapping = libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if mapping == libc::MAP_FAILED {
                panic!("mmap: {}", io::Error::last_os_error());
            }
            check(libc::mprotect(mapping, page, libc::PROT_NONE), "mprotect");
            let broker = mapping.cast::<u8>().add(page);
            let signal = libc::stack_t { ss_sp: broker.add(BROKER_STACK).cast(), ss_flags: 0, ss_size: SIGNAL_STACK };
            check(libc::sigaltstack(&signal, ptr::null_mut()), "sigaltstack");
            Stacks { broker }
        }
    }
}

/// Panics if a libc call failed: the harness cannot run without its stacks.
fn check(result: i32, call: &str) {
    if result != 0 {
        panic!("{call}: {}", io::Error::last_os_error());
    }
}
