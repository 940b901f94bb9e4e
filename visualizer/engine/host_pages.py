"""CPU memory for KV pages that the system can take back: page-aligned tensors and madvise.

`page_aligned_empty(shape, dtype)` is an uninitialised tensor starting on an OS page, so a KV page
whose bytes are a multiple of the OS page can be handed back whole by `discard(tensor)`
(madvise DONTNEED: the bytes read as zeros when next touched). `can_discard()` is False where libc's
madvise cannot be found (then free pages simply keep their memory).
What is left out: CUDA memory (the pool keeps it), huge pages, Windows.
"""

import ctypes
import ctypes.util
import mmap

import torch


def _libc_madvise():
    name = ctypes.util.find_library("c")
    try:
        function = ctypes.CDLL(name, use_errno=True).madvise if name else None
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    return function


_MADVISE = _libc_madvise()
_MADV_DONTNEED = 4


def can_discard():
    return _MADVISE is not None


def page_aligned_empty(shape, dtype):
    """An uninitialised CPU tensor whose first byte starts an OS page, so that page slices whose size
    is a multiple of the OS page (most models' 16-token pages) can be handed back whole."""
    count = 1
    for size in shape:
        count *= size
    item = torch.empty((), dtype=dtype).element_size()
    spare = mmap.PAGESIZE // item
    raw = torch.empty(count + spare, dtype=dtype)
    offset = (-raw.data_ptr() % mmap.PAGESIZE) // item
    return raw[offset:offset + count].view(shape)


def discard(tensor):
    """madvise(DONTNEED) over the whole OS pages inside a contiguous CPU tensor's bytes."""
    start, size = tensor.data_ptr(), tensor.numel() * tensor.element_size()
    first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
    last = (start + size) // mmap.PAGESIZE * mmap.PAGESIZE
    if last > first:
        _MADVISE(first, last - first, _MADV_DONTNEED)
