package handlers

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
	"testing"
	"time"
)

// A minimal WebSocket (RFC 6455) for the tests: enough to open a
// connection through the proxy, send text frames and read what comes
// back, without a dependency.

const (
	wsText  = 0x1
	wsClose = 0x8
	wsPing  = 0x9
	wsPong  = 0xA
)

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsEchoHandler answers a WebSocket upgrade and sends every text frame
// back, until the client closes.
func wsEchoHandler(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "websocket only", http.StatusBadRequest)
		return
	}
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
		op, payload, err := wsReadFrame(brw.Reader)
		if err != nil || op == wsClose {
			_ = wsWriteFrame(conn, wsClose, nil, false)
			return
		}
		if wsWriteFrame(conn, op, payload, false) != nil {
			return
		}
	}
}

// wsConn is the client side.
type wsConn struct {
	net.Conn
	br *bufio.Reader
}

// wsDial opens a WebSocket to rawURL (http://…) with extra headers; it
// returns the handshake response, and a connection when it was 101.
func wsDial(t *testing.T, rawURL string, header http.Header) (*wsConn, *http.Response) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString(key))
	req.Header.Set("Sec-WebSocket-Version", "13")
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body = io.NopCloser(strings.NewReader(string(body)))
		conn.Close()
		return nil, res
	}
	if got, want := res.Header.Get("Sec-WebSocket-Accept"), wsAccept(req.Header.Get("Sec-WebSocket-Key")); got != want {
		t.Fatalf("Sec-WebSocket-Accept: got %q, want %q", got, want)
	}
	t.Cleanup(func() { conn.Close() })
	return &wsConn{Conn: conn, br: br}, res
}

func (c *wsConn) send(t *testing.T, text string) {
	t.Helper()
	if err := wsWriteFrame(c.Conn, wsText, []byte(text), true); err != nil {
		t.Fatalf("websocket write: %v", err)
	}
}

// receive returns the next text message, answering pings on the way.
func (c *wsConn) receive(t *testing.T, timeout time.Duration) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	var msg []byte
	for {
		op, payload, err := wsReadFrame(c.br)
		if err != nil {
			t.Fatalf("websocket read: %v", err)
		}
		switch op {
		case wsPing:
			_ = wsWriteFrame(c.Conn, wsPong, payload, true)
			continue
		case wsPong:
			continue
		case wsClose:
			t.Fatalf("websocket closed by the server: %q", payload)
		}
		msg = append(msg, payload...)
		if op&0x80 != 0 { // FIN, folded into op by wsReadFrame
			return string(msg)
		}
	}
}

// wsReadFrame reads one frame. The opcode of a final frame has bit 0x80
// set for continuation handling; callers compare with op&0x0F.
func wsReadFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	fin, opcode, masked := h[0]&0x80 != 0, h[0]&0x0F, h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 64<<20 {
		return 0, nil, errors.New("frame too large")
	}
	var mask [4]byte
	if masked {
		if _, err := io.ReadFull(br, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
	}
	if opcode >= 0x8 { // control frames are never fragmented
		return opcode, payload, nil
	}
	if fin {
		opcode |= 0x80
	}
	return opcode, payload, nil
}

func wsWriteFrame(w io.Writer, op byte, payload []byte, mask bool) error {
	op &= 0x0F
	b := []byte{0x80 | op}
	m := byte(0)
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n < 1<<16:
		b = append(b, m|126, byte(n>>8), byte(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	data := payload
	if mask {
		var key [4]byte
		_, _ = rand.Read(key[:])
		b = append(b, key[:]...)
		data = make([]byte, len(payload))
		for i := range payload {
			data[i] = payload[i] ^ key[i%4]
		}
	}
	_, err := w.Write(append(b, data...))
	return err
}
