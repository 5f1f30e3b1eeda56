package load

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// A minimal WebSocket (RFC 6455), enough to echo text frames and time
// their round trip, without a dependency.

const (
	wsText  = 0x1
	wsClose = 0x8
)

// ErrNotUpgraded is returned by DialWS when the server did not switch
// protocols.
var ErrNotUpgraded = errors.New("websocket handshake refused")

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// EchoWS answers a WebSocket upgrade and sends every frame back until the
// client closes.
func EchoWS(w http.ResponseWriter, r *http.Request) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
	if brw.Flush() != nil {
		return
	}
	for {
		op, payload, err := readFrame(brw.Reader)
		if err != nil || op == wsClose {
			_ = writeFrame(conn, wsClose, nil, false)
			return
		}
		if writeFrame(conn, op, payload, false) != nil {
			return
		}
	}
}

// WS is the client side of a WebSocket.
type WS struct {
	conn net.Conn
	br   *bufio.Reader
}

// DialWS opens a WebSocket to rawURL (http://…) with extra headers.
func DialWS(rawURL string, header http.Header) (*WS, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	k := base64.StdEncoding.EncodeToString(key)
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	for name, v := range header {
		req.Header[name] = v
	}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", k)
	req.Header.Set("Sec-WebSocket-Version", "13")
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Sec-WebSocket-Accept") != wsAccept(k) {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		conn.Close()
		return nil, fmt.Errorf("%w: %s: %s", ErrNotUpgraded, res.Status, strings.TrimSpace(string(body)))
	}
	return &WS{conn: conn, br: br}, nil
}

// RoundTrip sends msg and waits for the frame that comes back, for at
// most five seconds.
func (c *WS) RoundTrip(msg []byte) error {
	if err := c.conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if err := writeFrame(c.conn, wsText, msg, true); err != nil {
		return err
	}
	op, got, err := readFrame(c.br)
	if err != nil {
		return err
	}
	if op != wsText || string(got) != string(msg) {
		return fmt.Errorf("echo: got op %d %q, want %q", op, got, msg)
	}
	return nil
}

// Close says goodbye and closes the connection.
func (c *WS) Close() error {
	_ = writeFrame(c.conn, wsClose, nil, true)
	return c.conn.Close()
}

func writeFrame(w io.Writer, op byte, payload []byte, mask bool) error {
	hdr := []byte{0x80 | op}
	m := byte(0)
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, m|byte(n))
	case n < 1<<16:
		hdr = append(hdr, m|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, m|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	body := payload
	if mask {
		key := make([]byte, 4)
		_, _ = rand.Read(key)
		hdr = append(hdr, key...)
		body = make([]byte, len(payload))
		for i, b := range payload {
			body[i] = b ^ key[i%4]
		}
	}
	_, err := w.Write(append(hdr, body...))
	return err
}

func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	op := h[0] & 0x0f
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes is too large", n)
	}
	var key []byte
	if h[1]&0x80 != 0 {
		key = make([]byte, 4)
		if _, err := io.ReadFull(r, key); err != nil {
			return 0, nil, err
		}
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	for i := range payload {
		if key != nil {
			payload[i] ^= key[i%4]
		}
	}
	return op, payload, nil
}
