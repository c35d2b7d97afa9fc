// The instruction set. Code is an array of 32-bit words: an opcode word
// followed by its operands. Stack effects are given as (before -- after).
#pragma once

#include <cstdint>

namespace valk {

#define VALK_OPCODES(X)                                                      \
  X(CONST, 1)      /* k        ( -- consts[k] )                       */    \
  X(NIL, 0)        /*          ( -- nil )                             */    \
  X(INT, 1)        /* i32      ( -- small integer )                   */    \
  X(LOCAL, 1)      /* slot     ( -- v )                               */    \
  X(LOCALCHK, 2)   /* slot k   ( -- v ) error if unbound; k: name     */    \
  X(SETLOCAL, 1)   /* slot     ( v -- )                               */    \
  X(ENVGET, 3)     /* d i k    ( -- v ) d-th env up; k: name          */    \
  X(ENVSET, 2)     /* d i      ( v -- )                               */    \
  X(GLOBAL, 1)     /* k        ( -- v ) error value if unbound        */    \
  X(DEFGLOBAL, 1)  /* k        ( v -- nil | error ) binds unless error */   \
  X(SETGLOBAL, 1)  /* k        ( v -- nil ) binds whatever it is      */    \
  X(POP, 0)        /*          ( v -- )                               */    \
  X(JMP, 1)        /* target                                          */    \
  X(IFJMP, 2)      /* else end ( c -- ) falsy: else; error: end (keeps) */  \
  X(SEQPOP, 1)     /* end      ( v -- ) an error jumps to end (keeps) */    \
  X(ANDJ, 1)       /* end      ( v -- ) falsy or error: jump, keep    */    \
  X(ORJ, 1)        /* end      ( v -- ) truthy or error: jump, keep   */    \
  X(ERRJ, 1)       /* end      ( v -- v ) an error: jump              */    \
  X(TRYJ, 1)       /* end      ( v -- v ) not an error: jump          */    \
  X(TRYCALL, 0)    /*          ( err h -- r ) (h err), or h if no fn  */    \
  X(CALL, 1)       /* n        ( f a1..an -- r )                      */    \
  X(TAILCALL, 1)   /* n        ( f a1..an -- ) returns f's result     */    \
  X(CALL0V, 0)     /*          ( x -- r ) (x): call x if a function   */    \
  X(TAILCALL0V, 0) /*          ( x -- )                               */    \
  X(RETURN, 0)     /*          ( v -- )                               */    \
  X(CLOSURE, 1)    /* k        ( -- closure of proto consts[k] )      */    \
  X(EVAL, 2)       /* k tail   ( x -- r ) x as code in scope consts[k] */   \
  X(RESET, 0)      /*          ( thunk -- r ) async-reset             */    \
  X(SHIFT, 0)      /*          ( fbody -- r ) async-shift             */    \
  X(ADD, 0)        /* inlined (+ a b) etc. with a generic fallback    */    \
  X(SUB, 0)                                                                 \
  X(MUL, 0)                                                                 \
  X(LT, 0)                                                                  \
  X(GT, 0)                                                                  \
  X(LE, 0)                                                                  \
  X(GE, 0)                                                                  \
  X(EQ, 0)                                                                  \
  X(IFCMP, 3)      /* cmp else end ( a b -- ) fused compare and branch; */   \
                   /* followed by CALL 2, IFJMP else end for when the  */   \
                   /* comparison was redefined by the program          */   \
  X(ADDI, 1)       /* i32      ( a -- a+i ) inlined (+ a 12)          */    \
  X(SUBI, 1)       /* i32      ( a -- a-i ) inlined (- a 12)          */    \
  X(HEAD, 0)       /* inlined (head l), (tail l), (nil? x)            */    \
  X(TAIL, 0)                                                                \
  X(ISNIL, 0)                                                               \
  X(JOBDONE, 1)    /* slot     ( r -- true ) reports a job's result     */    \
  X(CTXSET, 1)     /* slot     ( r -- r ) current context := local slot */    \
  X(EQV, 0)        /*          ( a b -- bool ) structural, for case   */

enum Op : uint32_t {
#define X(name, n) OP_##name,
  VALK_OPCODES(X)
#undef X
  OP_COUNT
};

inline constexpr uint8_t kOpOperands[] = {
#define X(name, n) n,
    VALK_OPCODES(X)
#undef X
};

}  // namespace valk
