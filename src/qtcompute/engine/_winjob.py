"""Windows: the pool's workers in one Job Object, which dies with the pool's process.

Owns :class:`WorkerJob` (:func:`make_job`): the kill-on-close job that ends the workers however
the pool's process ends, and caps each one's memory. Plain ``ctypes``, no pywin32; the
structures' layout is checked on every platform (``tests/engine/test_governance.py``), the calls
run on Windows only. Why a job: ``docs/engine.md``, "Parent death" and "Worker governance".
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger("qtcompute.engine")

JOB_OBJECT_LIMIT_PROCESS_MEMORY = 0x00000100
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000
_EXTENDED_LIMITS = 9  # JobObjectExtendedLimitInformation
PROCESS_TERMINATE = 0x0001
PROCESS_SET_QUOTA = 0x0100
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000

_DWORD = ctypes.c_uint32
_HANDLE = ctypes.c_void_p  # pointer-sized: a c_int restype would truncate handles on 64 bits


class IO_COUNTERS(ctypes.Structure):
    _fields_ = [
        ("ReadOperationCount", ctypes.c_uint64),
        ("WriteOperationCount", ctypes.c_uint64),
        ("OtherOperationCount", ctypes.c_uint64),
        ("ReadTransferCount", ctypes.c_uint64),
        ("WriteTransferCount", ctypes.c_uint64),
        ("OtherTransferCount", ctypes.c_uint64),
    ]


class JOBOBJECT_BASIC_LIMIT_INFORMATION(ctypes.Structure):
    _fields_ = [
        ("PerProcessUserTimeLimit", ctypes.c_int64),  # LARGE_INTEGER
        ("PerJobUserTimeLimit", ctypes.c_int64),
        ("LimitFlags", _DWORD),
        ("MinimumWorkingSetSize", ctypes.c_size_t),
        ("MaximumWorkingSetSize", ctypes.c_size_t),
        ("ActiveProcessLimit", _DWORD),
        ("Affinity", ctypes.c_size_t),  # ULONG_PTR
        ("PriorityClass", _DWORD),
        ("SchedulingClass", _DWORD),
    ]


class JOBOBJECT_EXTENDED_LIMIT_INFORMATION(ctypes.Structure):
    _fields_ = [
        ("BasicLimitInformation", JOBOBJECT_BASIC_LIMIT_INFORMATION),
        ("IoInfo", IO_COUNTERS),
        ("ProcessMemoryLimit", ctypes.c_size_t),
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    ]


def limits(memory_limit: int | None) -> JOBOBJECT_EXTENDED_LIMIT_INFORMATION:
    """The job's limits: killed with its last handle; each process capped at ``memory_limit``."""
    info = JOBOBJECT_EXTENDED_LIMIT_INFORMATION()
    flags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    if memory_limit is not None:
        flags |= JOB_OBJECT_LIMIT_PROCESS_MEMORY
        info.ProcessMemoryLimit = memory_limit
    info.BasicLimitInformation.LimitFlags = flags
    return info


def _kernel32():  # type: ignore[no-untyped-def]
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.CreateJobObjectW.argtypes = (ctypes.c_void_p, ctypes.c_wchar_p)
    kernel32.CreateJobObjectW.restype = _HANDLE
    kernel32.SetInformationJobObject.argtypes = (_HANDLE, ctypes.c_int, ctypes.c_void_p, _DWORD)
    kernel32.SetInformationJobObject.restype = ctypes.c_int
    kernel32.AssignProcessToJobObject.argtypes = (_HANDLE, _HANDLE)
    kernel32.AssignProcessToJobObject.restype = ctypes.c_int
    kernel32.OpenProcess.argtypes = (_DWORD, ctypes.c_int, _DWORD)
    kernel32.OpenProcess.restype = _HANDLE
    kernel32.IsProcessInJob.argtypes = (_HANDLE, _HANDLE, ctypes.POINTER(ctypes.c_int))
    kernel32.IsProcessInJob.restype = ctypes.c_int
    kernel32.CloseHandle.argtypes = (_HANDLE,)
    kernel32.CloseHandle.restype = ctypes.c_int
    return kernel32


def _fail(what: str) -> OSError:
    return ctypes.WinError(ctypes.get_last_error(), what)  # type: ignore[attr-defined]


class WorkerJob:
    """The job of one pool (Windows only)."""

    def __init__(self, memory_limit: int | None) -> None:
        self._kernel32 = _kernel32()
        handle = self._kernel32.CreateJobObjectW(None, None)  # no name, not inheritable
        if not handle:
            raise _fail("CreateJobObjectW")
        self.handle: int | None = handle
        info = limits(memory_limit)
        if not self._kernel32.SetInformationJobObject(
            handle, _EXTENDED_LIMITS, ctypes.byref(info), ctypes.sizeof(info)
        ):
            error = _fail("SetInformationJobObject")
            self.close()
            raise error

    def assign(self, pid: int) -> bool:
        """Put a just-started worker in the job; False (and a warning) if Windows refuses."""
        process = self._kernel32.OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, 0, pid)
        if not process:
            log.warning("cannot open worker %d to put it in the pool's job: %s", pid, _fail(""))
            return False
        try:
            if not self._kernel32.AssignProcessToJobObject(self.handle, process):
                log.warning(
                    "worker %d runs outside the pool's job object (%s): it relies on the "
                    "lifeline pipe alone to notice the pool's death, and memory_limit is not "
                    "enforced for it",
                    pid,
                    _fail("AssignProcessToJobObject"),
                )
                return False
            return True
        finally:
            self._kernel32.CloseHandle(process)

    def contains(self, pid: int) -> bool:
        """True if process ``pid`` runs in this job (for tests and diagnostics)."""
        process = self._kernel32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid)
        if not process:
            raise _fail("OpenProcess")
        try:
            result = ctypes.c_int(0)
            if not self._kernel32.IsProcessInJob(process, self.handle, ctypes.byref(result)):
                raise _fail("IsProcessInJob")
            return bool(result.value)
        finally:
            self._kernel32.CloseHandle(process)

    def close(self) -> None:
        """Close the job: what is still in it is killed (every worker was reaped by now)."""
        if self.handle:
            self._kernel32.CloseHandle(self.handle)
            self.handle = None


def make_job(memory_limit: int | None) -> WorkerJob | None:
    """The pool's job on Windows; None elsewhere, or if Windows refuses one (logged)."""
    if sys.platform != "win32":
        return None
    try:
        return WorkerJob(memory_limit)
    except OSError as exc:
        log.warning("cannot create a job object for the pool's workers: %s", exc)
        return None
