package mqtt

import (
	"strings"

	"github.com/hypha-iot/hypha/keys"
)

// Topic layout. {id} is an identity in bech32, device ("hyphadev1…") or
// account ("hypha1…") form, lower case.
const (
	topicRoot     = "hypha/v1/devices/"
	inboxSuffix   = "inbox"
	cursorSuffix  = "inbox/cursor"
	txSuffix      = "tx"
	resultSuffix  = "tx/result"
	resultSubtree = "tx/result/"
)

// TopicKind classifies a topic name or filter under hypha/v1/devices/{id}/.
type TopicKind int

// The topic kinds.
const (
	TopicOther  TopicKind = iota // anything else: never allowed
	TopicInbox                   // {id}/inbox: delivered by the broker only
	TopicCursor                  // {id}/inbox/cursor: sets the replay cursor (3.1.1 clients)
	TopicTx                      // {id}/tx: signed txs from id
	TopicResult                  // {id}/tx/result[/...]: tx results for id
)

// InboxTopic returns the inbox topic of a device id.
func InboxTopic(id keys.Address) string { return topicRoot + id.Device() + "/" + inboxSuffix }

// TxTopic returns the tx topic of a device id.
func TxTopic(id keys.Address) string { return topicRoot + id.Device() + "/" + txSuffix }

// ResultTopic returns the default tx result topic of a device id.
func ResultTopic(id keys.Address) string { return topicRoot + id.Device() + "/" + resultSuffix }

// CursorTopic returns the cursor topic of a device id's inbox.
func CursorTopic(id keys.Address) string { return topicRoot + id.Device() + "/" + cursorSuffix }

// ParseTopic classifies a topic name (no wildcards) and returns the identity
// it names. Any {id} that is not a canonical bech32 address, and any topic
// outside the layout, is TopicOther.
func ParseTopic(topic string) (TopicKind, keys.Address) {
	rest, ok := strings.CutPrefix(topic, topicRoot)
	if !ok {
		return TopicOther, keys.Address{}
	}
	idText, suffix, ok := strings.Cut(rest, "/")
	if !ok {
		return TopicOther, keys.Address{}
	}
	id, ok := parseID(idText)
	if !ok {
		return TopicOther, keys.Address{}
	}
	switch {
	case suffix == inboxSuffix:
		return TopicInbox, id
	case suffix == cursorSuffix:
		return TopicCursor, id
	case suffix == txSuffix:
		return TopicTx, id
	case suffix == resultSuffix, strings.HasPrefix(suffix, resultSubtree) && len(suffix) > len(resultSubtree):
		return TopicResult, id
	}
	return TopicOther, keys.Address{}
}

// parseID accepts exactly the canonical bech32 forms of an address, so that
// one identity has no more than two spellings in topics.
func parseID(s string) (keys.Address, bool) {
	a, prefix, err := keys.ParseAddress(s)
	if err != nil || prefix == "" {
		return keys.Address{}, false
	}
	if s != a.Account() && s != a.Device() {
		return keys.Address{}, false
	}
	return a, true
}

// hasWildcard tells whether a filter contains + or # anywhere.
func hasWildcard(filter string) bool { return strings.ContainsAny(filter, "+#") }

// ownResultWildcard reports whether a wildcard filter can only ever match
// topics in self's own result subtree: every level before its first
// wildcard level is literal and the literal part reaches
// hypha/v1/devices/{self}/tx/result. That is the only wildcard form the
// broker grants; any wildcard before that point (#, +, hypha/#,
// hypha/v1/devices/+/inbox, …) could match another identity's topics.
func ownResultWildcard(self keys.Address, filter string) bool {
	levels := strings.Split(filter, "/")
	first := -1
	for i, l := range levels {
		if l == "+" || l == "#" {
			first = i
			break
		}
		if strings.ContainsAny(l, "+#") {
			return false // invalid filter; mochi rejects it first anyway
		}
	}
	// hypha / v1 / devices / {id} / tx / result = 6 literal levels.
	if first < 6 {
		return false
	}
	if levels[0] != "hypha" || levels[1] != "v1" || levels[2] != "devices" || levels[4] != "tx" || levels[5] != "result" {
		return false
	}
	id, ok := parseID(levels[3])
	return ok && id == self
}
