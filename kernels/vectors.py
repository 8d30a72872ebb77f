"""64-byte vectors for the loops that gain from them, on a CPU with AVX-512.

LLVM compiles for 32-byte vectors even where the CPU has AVX-512 (its tuning for these CPUs prefers
256 bits, as wide vectors once lowered the clock), and Numba leaves that preference alone. Its only
switch, ``NUMBA_CPU_FEATURES`` with ``-prefer-256-bit``, is process-wide: every Numba function of the
user's process would change with it. ``wide_vectors()``, called at the top of a compiled function,
gives just that function LLVM's two attributes for 512-bit code: ``"prefer-vector-width"="512"`` (the
loop vectoriser may use zmm registers) and ``"min-legal-vector-width"="512"`` (the code generator keeps
512-bit vector types whole rather than splitting them in two; LLVM's inliner carries this one to the
callers a function is inlined into, so the vectors stay whole there too).

On a CPU without AVX-512 (``WIDE`` false) the call emits nothing. Numba's on-disk cache is keyed by the
CPU's feature string, so a kernel cached on one kind of CPU never runs on the other. The Python twin
(``NUMBA_DISABLE_JIT=1``) does nothing.
"""
from llvmlite import binding as llvm
from numba import types
from numba.core import config as numba_config
from numba.extending import intrinsic, overload

VECTOR_ATTRIBUTES = ('"prefer-vector-width"="512"', '"min-legal-vector-width"="512"')


def host_has_avx512():
    """True where the CPU that Numba compiles for has AVX-512 (its feature string, as Numba reads it:
    $NUMBA_CPU_FEATURES, else the host's). Numba's on-disk cache is keyed by the same string, so a
    kernel cached on one kind of CPU never runs with the other's code."""
    features = numba_config.CPU_FEATURES
    if features is None:  # "" (NUMBA_CPU_NAME=generic) means no features at all, not the host's
        features = llvm.get_host_cpu_features().flatten()
    return "+avx512f" in features.split(",")


def host_cpu_name():
    """The name of the CPU that Numba compiles for ($NUMBA_CPU_NAME, else the host's, as LLVM names it:
    "znver4", "sapphirerapids", ...), which also keys Numba's on-disk cache. Given as LLVM takes it: LLVM does
    not resolve NUMBA_CPU_NAME=host (it warns "'host' is not a recognized processor" and tunes for no CPU in
    particular), so neither does this, and such a process takes the routes of no particular CPU either."""
    return numba_config.CPU_NAME or llvm.get_host_cpu_name()


WIDE = host_has_avx512()


def wide_vectors():
    """Compile the calling function for 64-byte vectors where the CPU has AVX-512 (nothing in Python)."""
    return None


@overload(wide_vectors, inline="always")
def _wide_vectors_compiled():
    return lambda: _mark_wide()


def mark_wide(builder):
    """In an intrinsic's code generation: the function being built takes 64-byte vectors (where WIDE)."""
    if WIDE:
        # llvmlite's FunctionAttributes accepts only enum attributes by name; these are LLVM string
        # attributes, printed as they are into the function's definition.
        for attribute in VECTOR_ATTRIBUTES:
            set.add(builder.function.attributes, attribute)


@intrinsic
def _mark_wide(typingctx):
    def codegen(context, builder, sig, args):
        mark_wide(builder)
        return context.get_dummy_value()
    return types.none(), codegen
