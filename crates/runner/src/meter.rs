//! The meters of one run: fuel, memory and the wall-clock cap, and the rule that makes them final.
//!
//! A meter that trips stays tripped. From that moment nothing the job does counts: no callback,
//! no log line. The engine only gets control back at its next interrupt check, so the
//! interrupt handler keeps answering "stop" (an uncatchable error) and the host stops the event
//! loop after each step in which a meter tripped. QuickJS turns even an uncatchable error into
//! an ordinary rejection inside a `new Promise` executor, `Promise.try` or a thenable's `then`.
//! A job could catch its own interrupt there and call back with a result that depends on where
//! the meter stopped it. That is why the rule lives on the host side and not in the engine's
//! error handling.
//!
//! Memory is metered by [`MeteredAllocator`], not by QuickJS's own limit. QuickJS refuses an
//! allocation over its limit before the allocator sees it, so the host could not tell that the
//! limit was hit when the job catches the "out of memory" error. The unit is bytes requested by
//! the engine, rounded up to 8. QuickJS groups small objects into arenas, which count whole.
//! These are the same on every C library, unlike `malloc_usable_size`.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
    time::Instant,
};

use rquickjs::allocator::{Allocator, RustAllocator};

/// The meter that stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trip {
    Fuel,
    Memory,
    /// The host's cap: never a job result.
    WallClock,
}

impl Trip {
    fn code(self) -> u8 {
        match self {
            Self::Fuel => 1,
            Self::Memory => 2,
            Self::WallClock => 3,
        }
    }

    fn of(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Fuel),
            2 => Some(Self::Memory),
            3 => Some(Self::WallClock),
            _ => None,
        }
    }
}

/// Ticks in a unit of fuel: one tick per countdown step of QuickJS's interrupt counter (a
/// call or a loop's back edge), which checks in every 10,000.
pub(crate) const TICKS_PER_FUEL: u64 = 10_000;

/// The meters of one run, shared by the interrupt handler, the allocator and the host functions.
#[derive(Debug)]
pub(crate) struct Meter {
    /// In ticks.
    fuel_used: AtomicU64,
    pub(crate) fuel_limit: u64,
    memory_used: AtomicU64,
    memory_limit: u64,
    deadline: Instant,
    tripped: AtomicU8,
}

impl Meter {
    pub(crate) fn new(fuel_limit: u64, memory_limit: u64, deadline: Instant) -> Arc<Self> {
        Arc::new(Self {
            fuel_used: AtomicU64::new(0),
            fuel_limit,
            memory_used: AtomicU64::new(0),
            memory_limit,
            deadline,
            tripped: AtomicU8::new(0),
        })
    }

    /// The first meter that tripped, if any.
    pub(crate) fn tripped(&self) -> Option<Trip> {
        Trip::of(self.tripped.load(Ordering::Relaxed))
    }

    /// Records `trip` unless another meter tripped first.
    fn trip(&self, trip: Trip) {
        let _ = self
            .tripped
            .compare_exchange(0, trip.code(), Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The interrupt handler: one unit of fuel per check, then the cap. True means stop,
    /// and stays true once any meter has tripped.
    pub(crate) fn interrupt(&self) -> bool {
        if self.charge(TICKS_PER_FUEL) {
            return true;
        }
        if Instant::now() > self.deadline {
            self.trip(Trip::WallClock);
            return true;
        }
        false
    }

    /// Charges `ticks` of work the interrupt checks do not see (a native builtin's loop, a
    /// promise job, a timer); [`TICKS_PER_FUEL`] make a unit. True means stop: the fuel ran out
    /// now or a meter tripped before.
    pub(crate) fn charge(&self, ticks: u64) -> bool {
        if self.tripped().is_some() {
            return true;
        }
        let used = self.fuel_used.load(Ordering::Relaxed).saturating_add(ticks);
        self.fuel_used.store(used, Ordering::Relaxed);
        if used > self.fuel_limit.saturating_mul(TICKS_PER_FUEL) {
            self.trip(Trip::Fuel);
            return true;
        }
        false
    }

    /// Accounts for `grow` more bytes, or trips the memory meter if they would pass the limit.
    fn reserve(&self, grow: u64) -> bool {
        let used = self.memory_used.load(Ordering::Relaxed);
        if used.saturating_add(grow) > self.memory_limit {
            self.trip(Trip::Memory);
            return false;
        }
        self.memory_used.store(used + grow, Ordering::Relaxed);
        true
    }

    fn release(&self, shrink: u64) {
        let used = self.memory_used.load(Ordering::Relaxed);
        self.memory_used
            .store(used.saturating_sub(shrink), Ordering::Relaxed);
    }
}

/// Bytes of an allocation of `size`, as [`RustAllocator`] rounds it.
fn rounded(size: usize) -> u64 {
    size.div_ceil(8) as u64 * 8
}

/// QuickJS's allocator: Rust's global allocator (through [`RustAllocator`]), metered against
/// the job's memory limit.
pub(crate) struct MeteredAllocator(pub(crate) Arc<Meter>);

#[allow(
    unsafe_code,
    reason = "rquickjs's allocator interface is an unsafe trait; every call delegates to RustAllocator"
)]
// SAFETY: every pointer comes from `RustAllocator`, which meets the trait's contract, and is
// handed back to it unchanged. The meter only decides whether to call it, and a refusal is
// the null pointer the contract allows.
unsafe impl Allocator for MeteredAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.0.reserve(rounded(size)) {
            return std::ptr::null_mut();
        }
        let ptr = RustAllocator.alloc(size);
        if ptr.is_null() {
            self.0.release(rounded(size));
        }
        ptr
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            self.0.trip(Trip::Memory);
            return std::ptr::null_mut();
        };
        if !self.0.reserve(rounded(total)) {
            return std::ptr::null_mut();
        }
        let ptr = RustAllocator.calloc(count, size);
        if ptr.is_null() {
            self.0.release(rounded(total));
        }
        ptr
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        // SAFETY: `ptr` came from `RustAllocator` (the caller's contract).
        let size = unsafe { RustAllocator::usable_size(ptr) };
        self.0.release(size as u64);
        // SAFETY: as above.
        unsafe { RustAllocator.dealloc(ptr) }
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `RustAllocator` (the caller's contract).
        let old = unsafe { RustAllocator::usable_size(ptr) } as u64;
        let new = rounded(new_size);
        if new > old && !self.0.reserve(new - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        let moved = unsafe { RustAllocator.realloc(ptr, new_size) };
        if moved.is_null() {
            if new > old {
                self.0.release(new - old);
            }
        } else if new < old {
            self.0.release(old - new);
        }
        moved
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: `ptr` came from `RustAllocator` (the caller's contract).
        unsafe { RustAllocator::usable_size(ptr) }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn meter(fuel: u64, memory: u64) -> Arc<Meter> {
        Meter::new(fuel, memory, Instant::now() + Duration::from_secs(60))
    }

    #[test]
    fn charged_work_and_interrupt_checks_draw_on_the_same_fuel() {
        let m = meter(2, 1 << 20);
        assert!(!m.charge(TICKS_PER_FUEL / 2));
        assert!(!m.interrupt(), "1.5 units used of 2");
        assert!(!m.charge(TICKS_PER_FUEL / 2), "exactly 2: not over");
        assert!(m.charge(1), "one tick past the limit");
        assert_eq!(m.tripped(), Some(Trip::Fuel));
        assert!(m.charge(0) && m.interrupt(), "final once tripped");
    }

    #[test]
    fn a_tripped_meter_stays_tripped_and_the_first_trip_is_kept() {
        let m = meter(2, 1 << 20);
        assert!(!m.interrupt());
        assert!(!m.interrupt());
        assert!(m.interrupt());
        assert_eq!(m.tripped(), Some(Trip::Fuel));
        // A later memory refusal does not replace the first trip.
        let mut a = MeteredAllocator(m.clone());
        assert!(a.alloc(2 << 20).is_null());
        assert_eq!(m.tripped(), Some(Trip::Fuel));
        for _ in 0..3 {
            assert!(m.interrupt(), "once tripped, every check says stop");
        }
    }

    #[test]
    fn memory_counts_rounded_requests_and_trips_at_the_limit() {
        let m = meter(u64::MAX, 64);
        let mut a = MeteredAllocator(m.clone());
        let p = a.alloc(30); // 32 counted
        assert!(!p.is_null());
        let q = a.alloc(32); // 64: exactly the limit
        assert!(!q.is_null());
        assert_eq!(m.tripped(), None);
        assert!(a.alloc(1).is_null(), "65 bytes is over the limit");
        assert_eq!(m.tripped(), Some(Trip::Memory));
        // SAFETY: both pointers came from this allocator.
        #[allow(unsafe_code, reason = "the trait's own functions")]
        unsafe {
            let p = a.realloc(p, 8); // shrinks to 8 counted
            assert!(!p.is_null());
            assert_eq!(m.memory_used.load(Ordering::Relaxed), 40);
            a.dealloc(p);
            a.dealloc(q);
        }
        assert_eq!(m.memory_used.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_cap_trips_as_wall_clock() {
        let m = Meter::new(u64::MAX, u64::MAX, Instant::now());
        std::thread::sleep(Duration::from_millis(2));
        assert!(m.interrupt());
        assert_eq!(m.tripped(), Some(Trip::WallClock));
    }
}
