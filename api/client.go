package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hypha-iot/hypha/errs"
)

// Client calls the API. Its methods mirror the routes; every failure the
// server reports comes back as an *Error with the server's code, name,
// message and HTTP status (errors.As(err, &apiErr)); transport failures
// come back as they are.
type Client struct {
	base string
	hc   *http.Client
}

// NewClient returns a client for the API at baseURL (e.g.
// "http://127.0.0.1:26680"). hc nil means a plain http.Client. An hc with a
// Timeout also cuts event streams: prefer contexts for deadlines.
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc}
}

// QueryOptions are the options of single-record reads.
type QueryOptions struct {
	// Height reads state at this height (0: latest).
	Height int64
	// Prove asks for an ICS23 proof (Proof in the answer, or in the *Error
	// of a 404 as a proof of absence).
	Prove bool
}

func (o *QueryOptions) values() url.Values {
	v := url.Values{}
	if o == nil {
		return v
	}
	if o.Height > 0 {
		v.Set("height", strconv.FormatInt(o.Height, 10))
	}
	if o.Prove {
		v.Set("prove", "true")
	}
	return v
}

// ListOptions page through a list: After is the Next of the previous page.
type ListOptions struct {
	After string
	Limit int
}

func (o ListOptions) values() url.Values {
	v := url.Values{}
	if o.After != "" {
		v.Set("after", o.After)
	}
	if o.Limit > 0 {
		v.Set("limit", strconv.Itoa(o.Limit))
	}
	return v
}

// DeviceFilter selects devices by owner or by tag (one of them).
type DeviceFilter struct {
	Owner string
	Tag   string
}

// SubmitTx posts an encoded tx. mode is ModeSync or ModeCommit ("" is
// commit). In commit mode a ctx deadline becomes the server-side wait, so
// that the server answers (504 ErrTimeout, with the tx hash in
// Error.Submission) before the client gives up. A tx the ledger refuses
// returns an *Error whose Submission holds the hash and result.
func (c *Client) SubmitTx(ctx context.Context, raw []byte, mode string) (*Submission, error) {
	q := url.Values{}
	if mode != "" {
		q.Set("mode", mode)
	}
	if dl, ok := ctx.Deadline(); ok && mode != ModeSync {
		// Leave the answer a third of the time to travel and be scheduled
		// (a loaded gateway answers late; a tenth was not always enough).
		wait := time.Until(dl) * 2 / 3
		if wait < time.Millisecond {
			wait = time.Millisecond
		}
		q.Set("timeout", wait.Round(time.Millisecond).String())
	}
	var out Submission
	err := c.do(ctx, http.MethodPost, "/v1/txs", q, ContentTypeCBOR, raw, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Account reads an account.
func (c *Client) Account(ctx context.Context, addr string, opt *QueryOptions) (*Account, error) {
	return get[Account](ctx, c, "/v1/accounts/"+url.PathEscape(addr), opt.values())
}

// Device reads a device record.
func (c *Client) Device(ctx context.Context, id string, opt *QueryOptions) (*Device, error) {
	return get[Device](ctx, c, "/v1/devices/"+url.PathEscape(id), opt.values())
}

// DeviceHistory lists a device's history.
func (c *Client) DeviceHistory(ctx context.Context, id string, opt ListOptions) (*Page[*HistoryEntry], error) {
	return get[Page[*HistoryEntry]](ctx, c, "/v1/devices/"+url.PathEscape(id)+"/history", opt.values())
}

// HistoryEntry reads one history entry of a device.
func (c *Client) HistoryEntry(ctx context.Context, id string, seq uint64, opt *QueryOptions) (*HistoryEntry, error) {
	p := "/v1/devices/" + url.PathEscape(id) + "/history/" + strconv.FormatUint(seq, 10)
	return get[HistoryEntry](ctx, c, p, opt.values())
}

// Devices lists devices by owner or tag.
func (c *Client) Devices(ctx context.Context, f DeviceFilter, opt ListOptions) (*Page[*Device], error) {
	q := opt.values()
	if f.Owner != "" {
		q.Set("owner", f.Owner)
	}
	if f.Tag != "" {
		q.Set("tag", f.Tag)
	}
	return get[Page[*Device]](ctx, c, "/v1/devices", q)
}

// Readings lists a device's reading refs.
func (c *Client) Readings(ctx context.Context, id string, opt ListOptions) (*Page[*ReadingRef], error) {
	return get[Page[*ReadingRef]](ctx, c, "/v1/devices/"+url.PathEscape(id)+"/readings", opt.values())
}

// Reading reads one reading ref of a device.
func (c *Client) Reading(ctx context.Context, id string, idx uint64, opt *QueryOptions) (*ReadingRef, error) {
	p := "/v1/devices/" + url.PathEscape(id) + "/readings/" + strconv.FormatUint(idx, 10)
	return get[ReadingRef](ctx, c, p, opt.values())
}

// LatestReading reads a device's latest reading with its body. Its proof,
// if asked for, covers the device record that holds it.
func (c *Client) LatestReading(ctx context.Context, id string, opt *QueryOptions) (*Reading, error) {
	return get[Reading](ctx, c, "/v1/devices/"+url.PathEscape(id)+"/readings/latest", opt.values())
}

// Params reads the chain parameters.
func (c *Client) Params(ctx context.Context, opt *QueryOptions) (*Params, error) {
	return get[Params](ctx, c, "/v1/params", opt.values())
}

// Tx looks a committed tx up by hash.
func (c *Client) Tx(ctx context.Context, hash []byte) (*Tx, error) {
	return get[Tx](ctx, c, "/v1/txs/"+hex.EncodeToString(hash), nil)
}

// Block reads a committed block (height 0: the latest).
func (c *Client) Block(ctx context.Context, height int64) (*Block, error) {
	p := "/v1/blocks/latest"
	if height > 0 {
		p = "/v1/blocks/" + strconv.FormatInt(height, 10)
	}
	return get[Block](ctx, c, p, nil)
}

// Status describes the node.
func (c *Client) Status(ctx context.Context) (*NodeStatus, error) {
	return get[NodeStatus](ctx, c, "/v1/status", nil)
}

// OpenAPI fetches the OpenAPI document.
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	doc, err := get[json.RawMessage](ctx, c, "/v1/openapi.json", nil)
	if err != nil {
		return nil, err
	}
	return *doc, nil
}

// Events streams committed txs that match f. The channel closes when ctx
// ends, the server ends the stream, or the connection fails; reconnect with
// FromHeight one above the last Height seen to miss nothing. The error is
// for the request itself (bad filter, server down).
func (c *Client) Events(ctx context.Context, f EventFilter) (<-chan Event, error) {
	q := url.Values{}
	for k, v := range map[string]string{"device": f.Device, "account": f.Account, "kind": f.Kind} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.FromHeight > 0 {
		q.Set("from_height", strconv.FormatInt(f.FromHeight, 10))
	}
	return stream[Event](ctx, c, "/v1/events", q, f.After, "tx")
}

// Inbox lists a recipient's inbox (a device id or an account), oldest
// first; opt.After is an entry's cursor ("height.tx.msg").
func (c *Client) Inbox(ctx context.Context, addr string, opt ListOptions) (*Page[*InboxEntry], error) {
	return get[Page[*InboxEntry]](ctx, c, "/v1/inbox/"+url.PathEscape(addr), opt.values())
}

// InboxEntry reads one inbox entry by its cursor.
func (c *Client) InboxEntry(ctx context.Context, addr, cursor string, opt *QueryOptions) (*InboxEntry, error) {
	p := "/v1/inbox/" + url.PathEscape(addr) + "/" + url.PathEscape(cursor)
	return get[InboxEntry](ctx, c, p, opt.values())
}

// InboxStream streams a recipient's inbox entries after cursor after (""
// for the oldest kept): first those in state, then each new one as it
// commits, in order and each once. The channel closes when ctx ends, the
// server ends the stream, or the connection fails; call again with the
// last Cursor seen to resume without a gap. The error is for the request
// itself (bad address or cursor, server down).
func (c *Client) InboxStream(ctx context.Context, addr, after string) (<-chan InboxEntry, error) {
	return stream[InboxEntry](ctx, c, "/v1/inbox/"+url.PathEscape(addr)+"/stream", nil, after, "message")
}

// Message reads a sender's record of the message with id: its recipient,
// inbox cursor and receipt state.
func (c *Client) Message(ctx context.Context, sender string, id []byte, opt *QueryOptions) (*Message, error) {
	p := "/v1/messages/" + url.PathEscape(sender) + "/" + hex.EncodeToString(id)
	return get[Message](ctx, c, p, opt.values())
}

// Grant reads what grantee may send to a device.
func (c *Client) Grant(ctx context.Context, device, grantee string, opt *QueryOptions) (*Grant, error) {
	p := "/v1/grants/" + url.PathEscape(device) + "/" + url.PathEscape(grantee)
	return get[Grant](ctx, c, p, opt.values())
}

// stream opens an event stream at path, resuming after lastID if it is not
// empty, and sends the data of each event of type typ, decoded as T, on the
// channel it returns (see readSSE).
func stream[T any](ctx context.Context, c *Client, path string, q url.Values, lastID, typ string) (<-chan T, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(path, q), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	ch := make(chan T)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		readSSE(ctx, resp.Body, typ, ch)
	}()
	return ch, nil
}

// readSSE parses an event stream (the subset the server writes: id, event,
// data, comments) and sends the data of each event of type typ, decoded as
// T, on ch. It returns at the end of the body, at an "error" event, or
// when ctx ends.
func readSSE[T any](ctx context.Context, body io.Reader, typ string, ch chan<- T) {
	br := bufio.NewReaderSize(body, 64<<10)
	var got string
	var data bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if data.Len() > 0 && (got == "" || got == typ) {
				var v T
				if json.Unmarshal(data.Bytes(), &v) == nil {
					select {
					case ch <- v:
					case <-ctx.Done():
						return
					}
				}
			}
			if got == "error" {
				return
			}
			got = ""
			data.Reset()
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			got = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
}

func (c *Client) url(path string, q url.Values) string {
	if len(q) == 0 {
		return c.base + path
	}
	return c.base + path + "?" + q.Encode()
}

func get[T any](ctx context.Context, c *Client, path string, q url.Values) (*T, error) {
	var out T
	if err := c.do(ctx, http.MethodGet, path, q, "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// do sends one request and decodes a 2xx JSON answer into out, or returns
// the server's *Error.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, ctype string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), rd)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readError(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("api: %s %s: read answer: %w", method, path, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("api: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// readError turns an error answer into an *Error. An answer that is not the
// API's JSON (a proxy's page) still yields an *Error, classed by status.
func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var body errorBody
	if json.Unmarshal(b, &body) == nil && body.Error != nil && body.Error.Name != "" {
		e := body.Error
		e.HTTPStatus = resp.StatusCode
		e.Submission, e.Proof = body.Submission, body.Proof
		return e
	}
	c := errs.ErrInternal
	switch resp.StatusCode {
	case http.StatusNotFound:
		c = errs.ErrNotFound
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		c = ErrUnavailable
	case http.StatusGatewayTimeout:
		c = ErrTimeout
	}
	msg := strings.TrimSpace(string(b))
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return &Error{HTTPStatus: resp.StatusCode, Code: c.Code, Name: c.Name, Message: fmt.Sprintf("%s: %s", resp.Status, msg)}
}
