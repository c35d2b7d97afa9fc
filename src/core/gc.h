// Memory rules: what the collector sees, what it cannot, and who frees what.
//
// All Lisp values live in the Boehm-Demers-Weiser collector (libgc), which
// is conservative: any word that looks like a pointer into its heap keeps
// the object alive. That lets C++ code hold raw Values anywhere the
// collector scans, without handles or write barriers. The rules follow
// from what it scans.
//
// 1. Roots (scanned at every collection):
//    - the live part of each VM's value and frame stacks (up to sp and
//      nframes, pushed by push_vm_roots in vm.cpp; slots above are stale),
//      and the VM object itself (pending_fn, pending_args, ...);
//    - static and global data (.data/.bss): every file-scope variable, the
//      libuv loop (whose handle list links every open uv handle), the
//      runtime's job queue, live-handle list, timer heap;
//    - memory from GC_MALLOC_UNCOLLECTABLE (pinned objects, below) and the
//      containers that use traceable_allocator;
//    - the C stack and registers of the program's thread.
// 2. The collector cannot see malloc/new memory, nor memory that libuv,
//    nghttp2, libcurl or OpenSSL allocate. A Value stored only there is
//    invisible and may be freed under it. So:
//    - C++ objects that hold Values and that a C library points to (a
//      server connection, an HTTP/2 stream, a client transfer) are pinned:
//      gc_new_pinned<T>() memory is scanned but never collected, and is
//      freed with gc_delete_pinned() when the library is done with it (the
//      uv_close callback, nghttp2's stream-close callback, curl's done
//      message);
//    - standard containers holding Values or GC pointers use the Traced
//      allocator below (std::vector<Value> with the default allocator is a
//      bug: its buffer is malloc memory);
//    - the library's own memory (SSL_CTX, nghttp2_session, CURL handles,
//      write buffers) is freed explicitly by the object that owns it, as
//      soon as the operation ends, never by a finalizer alone.
// 3. Objects the program holds as values but that also own C resources (a
//    server) are collectable with a finalizer that runs their destructor;
//    while the resource is live (listening, connections open) a traced
//    registry keeps them reachable, and the C resources are released
//    when the operation ends, not when the collector gets round to it.
// 4. Memory that is never freed, on purpose: symbols and keywords (interned
//    for good, so client input must never be interned: request query names
//    and JSON keys are strings), builtins, the VM's internal trampolines.
//    valk_symbols_interned in the metrics shows the symbol table's size.
// 5. Pointer-free objects (strings, floats, boxed integers, bytecode) use
//    gc_alloc_atomic: the collector does not scan them, which is both
//    faster and keeps their bytes from pinning garbage.
// 6. Settled handles are ordinary garbage. What keeps pending work alive
//    is the runtime: the live-handle list (every unsettled handle), the
//    timer heap and the job queue. Failures nobody observed are listed
//    until observed or reported (handle.cpp), in bounded space.
//
// docs/internals.md#memory has the same rules with the reasons for them.
#pragma once

#include <gc/gc.h>
#include <gc/gc_allocator.h>

#include <deque>
#include <new>
#include <utility>
#include <vector>

namespace valk {

// Containers whose elements the collector must see (Values, handles, ...).
template <class T>
using TracedVector = std::vector<T, traceable_allocator<T>>;
template <class T>
using TracedDeque = std::deque<T, traceable_allocator<T>>;

// A C++ object scanned by the collector but never collected: for objects
// that C libraries point to and that hold Values (rule 2).
template <class T, class... A>
T* gc_new_pinned(A&&... a) {
  void* p = GC_MALLOC_UNCOLLECTABLE(sizeof(T));
  return new (p) T(std::forward<A>(a)...);
}
template <class T>
void gc_delete_pinned(T* p) {
  p->~T();
  GC_FREE(p);
}

// A collectable C++ object whose destructor runs when it is collected
// (rule 3). It must be kept reachable while a C library points to it.
template <class T, class... A>
T* gc_new_finalized(A&&... a) {
  void* p = GC_MALLOC(sizeof(T));
  T* obj = new (p) T(std::forward<A>(a)...);
  GC_register_finalizer_no_order(
      p, [](void* o, void*) { static_cast<T*>(o)->~T(); }, nullptr, nullptr, nullptr);
  return obj;
}

}  // namespace valk
