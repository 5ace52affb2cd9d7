package sdk

// Status is the host's refusal of a request (a transfer, a message): the
// code of the ledger's error class (package errs), e.g. 34 for
// ErrInsufficientFunds.
type Status uint32

// Refusals a contract commonly handles; the values are errs codes.
const (
	StatusInsufficientFunds Status = 34
	StatusZeroAmount        Status = 35
	StatusInvalidAddress    Status = 44
	StatusUnknownDevice     Status = 50
	StatusDeviceRevoked     Status = 52
	StatusRateLimited       Status = 81 // also: a command past the trigger depth bound
	StatusGrantExpired      Status = 84
	StatusNoGrant           Status = 85
)

func (s Status) Error() string {
	var b [10]byte
	i := len(b)
	for v := uint32(s); ; v /= 10 {
		i--
		b[i] = byte('0' + v%10)
		if v < 10 {
			break
		}
	}
	return "host refused with status " + string(b[i:])
}
