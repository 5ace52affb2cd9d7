package mqtt

import (
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hypha-iot/hypha/errs"
)

// MQTT 3.1.1 CONNACK return codes (§3.2.2.3) that mochi has no names for.
var (
	v3BadUsernameOrPassword = packets.Code{Code: 0x04, Reason: "bad user name or password"}
	v3NotAuthorized         = packets.Code{Code: 0x05, Reason: "not authorized"}
	v3ServerUnavailable     = packets.Code{Code: 0x03, Reason: "server unavailable"}
)

// connackCode returns the CONNACK code for protocol version v: an MQTT 5
// reason code, or its 3.1.1 return code.
//
//	MQTT 5                          3.1.1
//	0x86 bad user name or password  0x04
//	0x87 not authorized             0x05
//	0x8C bad authentication method  0x05
//	0x90 topic name invalid (will)  0x05
//	0x88 server unavailable         0x03
func connackCode(v byte, c packets.Code) packets.Code {
	if v == 5 {
		return c
	}
	switch c {
	case packets.ErrBadUsernameOrPassword:
		return v3BadUsernameOrPassword
	case packets.ErrServerUnavailable:
		return v3ServerUnavailable
	default:
		return v3NotAuthorized
	}
}

// publishCode maps the class of a refused tx publish to its MQTT 5
// PUBACK/PUBREC reason code: the MQTT edge's one table (STYLE rule 6).
// Only codes that MQTT 5 §3.4.2.1 allows in PUBACK and PUBREC appear: 0x95
// (packet too large) is a DISCONNECT code, so an over-limit tx inside an
// acceptable packet is 0x97 (quota exceeded); a packet over the advertised
// Maximum Packet Size closes the connection instead.
func publishCode(err error) packets.Code {
	switch errs.Of(err) {
	case errs.ErrTxTooLarge, errs.ErrPayloadTooLarge:
		return packets.ErrQuotaExceeded
	case errs.ErrMalformed, errs.ErrTruncated, errs.ErrNonCanonical, errs.ErrUnknownField,
		errs.ErrDuplicateKey, errs.ErrIndefiniteLength, errs.ErrTrailingBytes, errs.ErrUnknownMsg,
		errs.ErrNegativeAmount, errs.ErrAmountOverflow, errs.ErrEmptyTx, errs.ErrInvalidMsg:
		return packets.ErrPayloadFormatInvalid
	case errs.ErrUnauthorized, errs.ErrPubKeyMismatch, errs.ErrBadSignature, errs.ErrDeviceRevoked,
		errs.ErrDeviceDecommissioned:
		return packets.ErrNotAuthorized
	case errs.ErrUnavailable, errs.ErrTimeout:
		return packets.ErrQuotaExceeded
	default:
		return packets.ErrUnspecifiedError
	}
}

// CONNACK and DISCONNECT codes with Hypha's reason strings.
var (
	codeWillRefused = packets.Code{Code: packets.ErrTopicNameInvalid.Code, Reason: "will messages are not accepted"}
	codeAuthMethod  = packets.Code{Code: packets.ErrBadAuthenticationMethod.Code, Reason: "only username/token authentication is supported"}
	codeInactive    = packets.Code{Code: packets.ErrNotAuthorized.Code, Reason: "identity revoked or decommissioned"}
	codeBadPassword = packets.ErrBadUsernameOrPassword
	codeUnavailable = packets.ErrServerUnavailable
	codeKeyChanged  = packets.Code{Code: packets.ErrNotAuthorized.Code, Reason: "identity key rotated, revoked or decommissioned"}
)
