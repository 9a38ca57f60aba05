"""The Windows API as kevents uses it: cffi in ABI mode, no compiler needed.

Story: the cdef uses fixed-width types only (DWORD/ULONG = uint32_t, NTSTATUS = int32_t,
HANDLE = void*, ULONG_PTR/SOCKET = uintptr_t), so it parses the same on Linux and the
struct layouts are byte-identical to Windows x64 (design note §2.2; a Linux unit test
checks the sizes). Windows' ``long`` is 32-bit, Linux's 64-bit: never write ``long``.
NTSTATUS is *signed*: read ``OVERLAPPED.Internal`` (a ULONG_PTR) through
``ffi.cast("int32_t", x)``. ``WINAPI`` is declared on every function: a no-op on x64,
required on 32-bit Windows (stdcall).

Only parsing happens at import; the DLLs are opened on win32 alone (``kernel32`` etc.
are then module attributes). Optional exports (Windows 8+ wait completion packets,
missing in Wine 8) are looked up with :func:`optional`.
"""

from __future__ import annotations

import sys
from typing import Any

import cffi  # type: ignore[import-untyped,unused-ignore]

CDEF = """
typedef struct {
    uintptr_t Internal;
    uintptr_t InternalHigh;
    uint32_t Offset;
    uint32_t OffsetHigh;
    void *hEvent;
} OVERLAPPED;

typedef struct {
    uintptr_t lpCompletionKey;
    OVERLAPPED *lpOverlapped;
    uintptr_t Internal;
    uint32_t dwNumberOfBytesTransferred;
} OVERLAPPED_ENTRY;

typedef struct {
    int32_t Status;
    uintptr_t Information;
} IO_STATUS_BLOCK;

typedef struct {
    void *Handle;
    uint32_t Events;
    int32_t Status;
} AFD_POLL_HANDLE_INFO;

typedef struct {
    int64_t Timeout;
    uint32_t NumberOfHandles;
    uint32_t Exclusive;
    AFD_POLL_HANDLE_INFO Handles[1];
} AFD_POLL_INFO;

/* kevents' own op blocks: one allocation the kernel writes into */
typedef struct {
    OVERLAPPED ov;
    AFD_POLL_INFO info;
} KEV_AFD_OP;

typedef struct {
    uint16_t Length;
    uint16_t MaximumLength;
    uint16_t *Buffer;
} UNICODE_STRING;

typedef struct {
    uint32_t Length;
    void *RootDirectory;
    UNICODE_STRING *ObjectName;
    uint32_t Attributes;
    void *SecurityDescriptor;
    void *SecurityQualityOfService;
} OBJECT_ATTRIBUTES;

typedef struct {
    uint32_t NextEntryOffset;
    uint32_t Action;
    uint32_t FileNameLength;
    uint16_t FileName[1];
} FILE_NOTIFY_INFORMATION;

typedef struct {
    uint32_t dwLowDateTime;
    uint32_t dwHighDateTime;
} FILETIME; /* two DWORDs: 4-byte aligned, unlike a uint64_t */

typedef struct {
    uint32_t dwFileAttributes;
    FILETIME ftCreationTime;
    FILETIME ftLastAccessTime;
    FILETIME ftLastWriteTime;
    uint32_t dwVolumeSerialNumber;
    uint32_t nFileSizeHigh;
    uint32_t nFileSizeLow;
    uint32_t nNumberOfLinks;
    uint32_t nFileIndexHigh;
    uint32_t nFileIndexLow;
} BY_HANDLE_FILE_INFORMATION;

typedef struct {
    uint32_t NamedPipeType;
    uint32_t NamedPipeConfiguration;
    uint32_t MaximumInstances;
    uint32_t CurrentInstances;
    uint32_t InboundQuota;
    uint32_t ReadDataAvailable;
    uint32_t OutboundQuota;
    uint32_t WriteQuotaAvailable;
    uint32_t NamedPipeState;
    uint32_t NamedPipeEnd;
} FILE_PIPE_LOCAL_INFORMATION;

typedef int (__stdcall *PHANDLER_ROUTINE)(uint32_t CtrlType);

/* kernel32 */
void * __stdcall CreateIoCompletionPort(void *FileHandle, void *ExistingCompletionPort,
    uintptr_t CompletionKey, uint32_t NumberOfConcurrentThreads);
int __stdcall GetQueuedCompletionStatusEx(void *CompletionPort, OVERLAPPED_ENTRY *entries,
    uint32_t ulCount, uint32_t *ulNumEntriesRemoved, uint32_t dwMilliseconds, int fAlertable);
int __stdcall PostQueuedCompletionStatus(void *CompletionPort, uint32_t bytes,
    uintptr_t key, OVERLAPPED *lpOverlapped);
int __stdcall SetFileCompletionNotificationModes(void *FileHandle, uint8_t Flags);
int __stdcall CancelIoEx(void *hFile, OVERLAPPED *lpOverlapped);
int __stdcall CloseHandle(void *h);
uint32_t __stdcall GetLastError(void);
void * __stdcall CreateFileW(const uint16_t *name, uint32_t access, uint32_t share,
    void *sa, uint32_t disposition, uint32_t flags, void *tmpl);
void * __stdcall ReOpenFile(void *h, uint32_t access, uint32_t share, uint32_t flags);
int __stdcall ReadFile(void *h, void *buf, uint32_t n, uint32_t *done, OVERLAPPED *ov);
int __stdcall WriteFile(void *h, const void *buf, uint32_t n, uint32_t *done, OVERLAPPED *ov);
int __stdcall FlushFileBuffers(void *h);
int __stdcall ReadDirectoryChangesW(void *hDirectory, void *lpBuffer, uint32_t nBufferLength,
    int bWatchSubtree, uint32_t dwNotifyFilter, uint32_t *lpBytesReturned,
    OVERLAPPED *lpOverlapped, void *lpCompletionRoutine);
uint32_t __stdcall GetFinalPathNameByHandleW(void *h, uint16_t *path, uint32_t n, uint32_t flags);
int __stdcall GetFileInformationByHandle(void *h, BY_HANDLE_FILE_INFORMATION *info);
void * __stdcall CreateEventW(void *sa, int manual, int initial, const uint16_t *name);
int __stdcall SetEvent(void *h);
uint32_t __stdcall WaitForMultipleObjects(uint32_t n, void * const *handles, int all,
    uint32_t ms);
uint32_t __stdcall WaitForSingleObject(void *h, uint32_t ms);
void * __stdcall OpenProcess(uint32_t access, int inherit, uint32_t pid);
int __stdcall GetExitCodeProcess(void *h, uint32_t *code);
uint32_t __stdcall GetProcessId(void *h);
int __stdcall DuplicateHandle(void *srcProc, void *src, void *dstProc, void **dst,
    uint32_t access, int inherit, uint32_t options);
void * __stdcall GetCurrentProcess(void);
int __stdcall SetConsoleCtrlHandler(PHANDLER_ROUTINE handler, int add);
uint32_t __stdcall GetFileType(void *h);
int __stdcall GetFileSizeEx(void *h, int64_t *size);
int __stdcall PeekNamedPipe(void *h, void *buf, uint32_t n, uint32_t *read, uint32_t *avail,
    uint32_t *left);
int __stdcall CancelSynchronousIo(void *thread);
void * __stdcall OpenThread(uint32_t access, int inherit, uint32_t id);
uint32_t __stdcall GetCurrentThreadId(void);
int __stdcall GetConsoleMode(void *h, uint32_t *mode);
int __stdcall GetNumberOfConsoleInputEvents(void *h, uint32_t *n);
int __stdcall ResetEvent(void *h);
void * __stdcall CreateWaitableTimerExW(void *sa, const uint16_t *name, uint32_t flags,
    uint32_t access);
int __stdcall SetWaitableTimer(void *h, const int64_t *due, int32_t period, void *routine,
    void *arg, int resume);
int __stdcall CancelWaitableTimer(void *h);
int __stdcall GenerateConsoleCtrlEvent(uint32_t event, uint32_t group);

/* ntdll */
int32_t __stdcall NtCreateFile(void **FileHandle, uint32_t DesiredAccess,
    OBJECT_ATTRIBUTES *ObjectAttributes, IO_STATUS_BLOCK *IoStatusBlock,
    int64_t *AllocationSize, uint32_t FileAttributes, uint32_t ShareAccess,
    uint32_t CreateDisposition, uint32_t CreateOptions, void *EaBuffer, uint32_t EaLength);
int32_t __stdcall NtDeviceIoControlFile(void *FileHandle, void *Event, void *ApcRoutine,
    void *ApcContext, IO_STATUS_BLOCK *IoStatusBlock, uint32_t IoControlCode,
    void *InputBuffer, uint32_t InputBufferLength, void *OutputBuffer,
    uint32_t OutputBufferLength);
uint32_t __stdcall RtlNtStatusToDosError(int32_t Status);
int32_t __stdcall NtQueryObject(void *Handle, uint32_t ObjectInformationClass,
    void *ObjectInformation, uint32_t ObjectInformationLength, uint32_t *ReturnLength);
int32_t __stdcall NtQueryInformationFile(void *h, IO_STATUS_BLOCK *iosb, void *info,
    uint32_t len, uint32_t cls);
const char * __stdcall wine_get_version(void);
int32_t __stdcall NtCreateWaitCompletionPacket(void **handle, uint32_t access,
    OBJECT_ATTRIBUTES *attrs);
int32_t __stdcall NtAssociateWaitCompletionPacket(void *packet, void *port, void *target,
    void *KeyContext, void *ApcContext, int32_t IoStatus, uintptr_t IoStatusInformation,
    uint8_t *AlreadySignaled);
int32_t __stdcall NtCancelWaitCompletionPacket(void *packet, uint8_t RemoveSignaledPacket);

/* ws2_32 */
int __stdcall WSAIoctl(uintptr_t s, uint32_t code, void *inbuf, uint32_t inlen,
    void *outbuf, uint32_t outlen, uint32_t *returned, OVERLAPPED *ov, void *routine);
int __stdcall WSAGetLastError(void);
int __stdcall ioctlsocket(uintptr_t s, int32_t cmd, uint32_t *argp);
int __stdcall recv(uintptr_t s, char *buf, int len, int flags);
int __stdcall send(uintptr_t s, const char *buf, int len, int flags);
int __stdcall getsockopt(uintptr_t s, int level, int optname, char *optval, int *optlen);
"""

ffi = cffi.FFI()
ffi.cdef(CDEF)

INVALID_HANDLE_VALUE = ffi.cast("void *", -1)
INFINITE = 0xFFFFFFFF

# NTSTATUS (read as signed 32-bit)
STATUS_SUCCESS = 0
STATUS_PENDING = 0x103
STATUS_CANCELLED = -0x3FFFFEE0  # 0xC0000120
STATUS_NOT_FOUND = -0x3FFFFDDB  # 0xC0000225
STATUS_END_OF_FILE = -0x3FFFFFEF  # 0xC0000011
STATUS_INVALID_HANDLE = -0x3FFFFFF8  # 0xC0000008

# Win32 errors
ERROR_INVALID_HANDLE = 6
ERROR_HANDLE_EOF = 38
ERROR_INVALID_PARAMETER = 87
ERROR_OPERATION_ABORTED = 995
ERROR_IO_PENDING = 997
ERROR_NOT_FOUND = 1168
ERROR_NOTIFY_ENUM_DIR = 1022
ERROR_BROKEN_PIPE = 109
WAIT_TIMEOUT = 258
WAIT_OBJECT_0 = 0
WAIT_FAILED = 0xFFFFFFFF
WSAENOTSOCK = 10038

# access, share, creation
SYNCHRONIZE = 0x00100000
GENERIC_READ = 0x80000000
GENERIC_WRITE = 0x40000000
FILE_LIST_DIRECTORY = 0x1
FILE_READ_ATTRIBUTES = 0x80
FILE_SHARE_ALL = 0x7
OPEN_EXISTING = 3
FILE_OPEN = 1
FILE_FLAG_OVERLAPPED = 0x40000000
FILE_FLAG_BACKUP_SEMANTICS = 0x02000000
FILE_SKIP_SET_EVENT_ON_HANDLE = 0x2
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
DUPLICATE_SAME_ACCESS = 0x2

# files, pipes, consoles, timers
FILE_TYPE_DISK = 1
FILE_TYPE_CHAR = 2
FILE_TYPE_PIPE = 3
FILE_MODE_INFORMATION = 16  # FILE_INFORMATION_CLASS values
FILE_PIPE_LOCAL_INFORMATION = 24
FILE_SYNCHRONOUS_IO_ALERT = 0x10
FILE_SYNCHRONOUS_IO_NONALERT = 0x20
FILE_PIPE_CONNECTED_STATE = 3
THREAD_TERMINATE = 0x0001  # what CancelSynchronousIo needs
CREATE_WAITABLE_TIMER_HIGH_RESOLUTION = 0x2
TIMER_ALL_ACCESS = 0x1F0003

# AFD
IOCTL_AFD_POLL = 0x00012024
AFD_POLL_RECEIVE = 0x0001
AFD_POLL_RECEIVE_EXPEDITED = 0x0002
AFD_POLL_SEND = 0x0004
AFD_POLL_DISCONNECT = 0x0008
AFD_POLL_ABORT = 0x0010
AFD_POLL_LOCAL_CLOSE = 0x0020
AFD_POLL_CONNECT = 0x0040
AFD_POLL_ACCEPT = 0x0080
AFD_POLL_CONNECT_FAIL = 0x0100
SIO_BASE_HANDLE = 0x48000022
SIO_BSP_HANDLE_SELECT = 0x4800001C
SIO_BSP_HANDLE_POLL = 0x4800001D
FIONREAD = 0x4004667F
SOL_SOCKET = 0xFFFF
SO_ERROR = 0x1007
SO_ACCEPTCONN = 0x0002
SO_TYPE = 0x1008
SO_SNDBUF = 0x1001
MSG_PEEK = 0x2
SOCKET_ERROR = -1

# ReadDirectoryChangesW
FILE_NOTIFY_ALL = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x40 | 0x100
FILE_ACTION_ADDED = 1
FILE_ACTION_REMOVED = 2
FILE_ACTION_MODIFIED = 3
FILE_ACTION_RENAMED_OLD_NAME = 4
FILE_ACTION_RENAMED_NEW_NAME = 5

kernel32: Any = None
ntdll: Any = None
ws2_32: Any = None

if sys.platform == "win32":  # pragma: no cover - Windows only
    import socket as _socket  # noqa: F401  (initialises Winsock: WSAStartup)

    kernel32 = ffi.dlopen("kernel32.dll")
    ntdll = ffi.dlopen("ntdll.dll")
    ws2_32 = ffi.dlopen("ws2_32.dll")


def optional(lib: Any, name: str) -> Any:
    """``lib.name``, or None when this Windows (or Wine) does not export it."""
    try:
        return getattr(lib, name)
    except (AttributeError, NotImplementedError):
        return None


def addr(ptr: Any) -> int:
    """The address of a cffi pointer, as the int a packet's lpOverlapped carries."""
    return int(ffi.cast("uintptr_t", ptr))


def winerror(what: str | None = None, code: int | None = None) -> OSError:
    """An OSError for the calling thread's last Win32 error (or ``code``): Python maps
    the winerror to an errno (ERROR_INVALID_HANDLE -> EBADF, WSAE* -> the same-named
    errno), so callers can test ``exc.errno`` as on every OS."""
    if code is None:
        code, msg = ffi.getwinerror()
    else:
        msg = ffi.getwinerror(code)[1]
    return OSError(0, msg, what, code)


def wsaerror(what: str | None = None) -> OSError:
    """An OSError for the last Winsock error (WSAGetLastError)."""
    return winerror(what, int(ws2_32.WSAGetLastError()))


def ntstatus_error(status: int, what: str | None = None) -> OSError:
    """An OSError for an NTSTATUS, through RtlNtStatusToDosError."""
    code = int(ntdll.RtlNtStatusToDosError(status))
    return winerror(what, code)


def check_bool(ret: int, what: str) -> int:
    """Raise the last error when a BOOL-returning call failed."""
    if not ret:
        raise winerror(what)
    return ret


def check_handle(h: Any, what: str) -> Any:
    """Raise the last error when a HANDLE-returning call failed (NULL or -1)."""
    if h == ffi.NULL or h == INVALID_HANDLE_VALUE:
        raise winerror(what)
    return h
