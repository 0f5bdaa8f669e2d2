"""LLVM intrinsics of the Kendall kernel (:mod:`brainalign.rsa._kernels`): POPCNT and a masked
16-lane prefix increment.

They are compiled into their callers: numba's cache of ``_kernels`` does not see edits here, so
after changing this file clear ``src/brainalign/rsa/__pycache__`` (or touch ``_kernels.py``) and
rerun the warm-up (``python -m brainalign.pipeline.warmup``).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["LANES", "popcount", "prefix_inc"]

LANES = 16


@intrinsic
def popcount(typingctx, x):
    """LLVM ``ctpop`` on a uint64 (one POPCNT instruction)."""
    if x != types.uint64:
        return None
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [ir.IntType(64)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.ctpop.i64")
        return builder.call(fn, args)

    return sig, codegen


@intrinsic
def prefix_inc(typingctx, arr, offset, limit):
    """``arr[offset + u] += 1`` for the lanes ``u < limit`` of ``u in range(16)``.

    ``arr`` is a 1-D uint16 or uint32 array with at least ``offset + 16`` elements.  Emitted
    as one unaligned ``<16 x i16>`` (or ``<16 x i32>``) load, compare, masked add and store
    (256-bit vectors for uint16: no AVX-512 frequency penalty; plain SSE/NEON code elsewhere).
    """
    if not (
        isinstance(arr, types.Array) and arr.dtype in (types.uint16, types.uint32) and arr.ndim == 1
    ):
        return None
    width = arr.dtype.bitwidth
    sig = types.void(arr, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ity = ir.IntType(width)
        i32 = ir.IntType(32)
        vty = ir.VectorType(ity, LANES)
        ptr = builder.gep(ary.data, [args[1]])
        vptr = builder.bitcast(ptr, vty.as_pointer())
        vec = builder.load(vptr, align=width // 8)
        lim = builder.trunc(args[2], ity)
        undef = ir.Constant(vty, ir.Undefined)
        one = builder.insert_element(undef, lim, ir.Constant(i32, 0))
        splat = builder.shuffle_vector(
            one, undef, ir.Constant(ir.VectorType(i32, LANES), [0] * LANES)
        )
        iota = ir.Constant(vty, list(range(LANES)))
        mask = builder.icmp_unsigned("<", iota, splat)
        inc = builder.add(vec, ir.Constant(vty, [1] * LANES))
        builder.store(builder.select(mask, inc, vec), vptr, align=width // 8)
        return context.get_dummy_value()

    return sig, codegen
