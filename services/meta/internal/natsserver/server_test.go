package natsserver

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var open []net.Listener
	defer func() {
		for _, ln := range open {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func start(t *testing.T, name string, routes ...string) *Server {
	t.Helper()
	p := freePorts(t, 2)
	s, err := Start(Options{Name: name, Port: p[0], ClusterPort: p[1], AdvertiseHost: "127.0.0.1", Routes: routes, ReadyTimeout: 30 * time.Second}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// reaches reports whether a message published on from's server arrives at a
// subscriber on to's server, retrying while the route comes up.
func reaches(t *testing.T, from, to *Server) {
	t.Helper()
	sub, err := nats.Connect(to.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := nats.Connect(from.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	subject := fmt.Sprintf("test.%p", to)
	ch := make(chan *nats.Msg, 64)
	if _, err := sub.ChanSubscribe(subject, ch); err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if err := pub.Publish(subject, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("a message published on %s never reached a subscriber on %s", from.URL(), to.URL())
}

func TestClusterRoutes(t *testing.T) {
	a := start(t, "a")
	if a.RouteURL() == "" {
		t.Fatal("no route URL")
	}
	b := start(t, "b", a.RouteURL())
	reaches(t, a, b)
	reaches(t, b, a)

	// c joins without routes; a learns of it through SetRoutes, and b
	// through the cluster's gossip.
	c := start(t, "c")
	if err := a.SetRoutes([]string{b.RouteURL(), c.RouteURL()}); err != nil {
		t.Fatal(err)
	}
	reaches(t, c, a)
	reaches(t, b, c)
	if err := a.SetRoutes([]string{c.RouteURL(), b.RouteURL()}); err != nil {
		t.Fatalf("unchanged routes: %v", err)
	}
	if err := a.SetRoutes([]string{"::bad"}); err == nil {
		t.Fatal("a bad route URL was accepted")
	}
}

func TestStandalone(t *testing.T) {
	p := freePorts(t, 1)
	s, err := Start(Options{Name: "solo", Port: p[0], AdvertiseHost: "127.0.0.1"}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.RouteURL() != "" || s.SetRoutes([]string{"nats-route://127.0.0.1:1"}) != nil {
		t.Fatal("a standalone server has routes")
	}
	if _, err := Start(Options{Name: "clash", Port: p[0], ClusterPort: p[0], AdvertiseHost: "127.0.0.1"}, zerolog.Nop()); err == nil {
		t.Fatal("cluster port equal to the client port accepted")
	}
}
