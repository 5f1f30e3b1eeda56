package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The contract suite: every test runs against a fresh SQLite file and a
// fresh PostgreSQL database on the server the test command started.

type backend struct {
	name string
	// location returns the dbURL and dataDir of a new, empty database.
	location func(t testing.TB) (dbURL, dataDir string)
}

func backends() []backend {
	return []backend{
		{name: KindSQLite, location: func(t testing.TB) (string, string) { return "", t.TempDir() }},
		{name: KindPostgres, location: func(t testing.TB) (string, string) { return freshPostgres(t), "" }},
	}
}

// freshPostgres creates a database for one test and drops it afterwards.
func freshPostgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("ZOE_TEST_POSTGRES_URL")
	if base == "" {
		t.Fatal("ZOE_TEST_POSTGRES_URL not set: run `make test`")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("zoe_test_%x", rand.Uint64())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func openStore(t testing.TB, dbURL, dataDir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dbURL, dataDir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEach runs test against a fresh store of each kind.
func forEach(t *testing.T, test func(t *testing.T, s *Store)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			dbURL, dir := b.location(t)
			test(t, openStore(t, dbURL, dir))
		})
	}
}

func newUser(t testing.TB, s *Store, name string) User {
	t.Helper()
	u := User{Username: name, Role: "user", Source: "builtin", PasswordHash: "hash-" + name, Enabled: true}
	if _, err := s.CreateUser(context.Background(), &u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u
}

// sampleServices is an execution of two services, one with two ports.
func sampleServices() []Service {
	return []Service{
		{
			Name: "jupyter0", Group: "jupyter", Essential: true, Description: []byte(`{"image":"zoe/jupyter"}`),
			Memory: 2 << 30, MilliCores: 1500,
			Ports: []Port{
				{Name: "Notebook", Number: 8888, Protocol: "tcp", URLTemplate: "http://{ip_port}/", Proxy: true},
				{Name: "Spark UI", Number: 4040, Protocol: "tcp"},
			},
		},
		{Name: "worker0", Group: "worker", Description: []byte(`{"image":"zoe/worker"}`), Memory: 1 << 30, MilliCores: 1000},
	}
}

func newExecution(t testing.TB, s *Store, userID int64, status string) Execution {
	t.Helper()
	e := Execution{
		Name: "notebook", UserID: userID, ZappID: "jupyter", Description: []byte(`{"name":"notebook"}`),
		Status: status, Size: 1.5, Memory: 3 << 30, MilliCores: 2500,
	}
	if _, err := s.CreateExecution(context.Background(), &e, sampleServices()); err != nil {
		t.Fatalf("CreateExecution: %v", err)
	}
	return e
}

func count(t testing.TB, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.rdb.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestOpenLocations(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		dbURL   string
		dataDir string
		file    string // created by Open
		wantErr bool
	}{
		{name: "default file in data dir", dataDir: filepath.Join(dir, "data"), file: filepath.Join(dir, "data", "zoe.db")},
		{name: "sqlite URL", dbURL: "sqlite://" + filepath.Join(dir, "sub", "a.db"), file: filepath.Join(dir, "sub", "a.db")},
		{name: "file URI", dbURL: "file:" + filepath.Join(dir, "b.db"), file: filepath.Join(dir, "b.db")},
		{name: "no URL, no dir", wantErr: true},
		{name: "unknown scheme", dbURL: "mysql://zoe:secret@db/zoe", wantErr: true},
		{name: "empty sqlite path", dbURL: "sqlite://", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.dbURL, tt.dataDir)
			if tt.wantErr {
				if err == nil {
					s.Close()
					t.Fatal("got no error, want one")
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			if got := s.Kind(); got != KindSQLite {
				t.Errorf("got kind %s, want %s", got, KindSQLite)
			}
			if _, err := os.Stat(tt.file); err != nil {
				t.Errorf("got %v, want the database file created", err)
			}
		})
	}
	t.Run("data dir is private", func(t *testing.T) {
		fi, err := os.Stat(filepath.Join(dir, "data"))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o700 {
			t.Errorf("got mode %o, want 700", got)
		}
	})
	t.Run("password redacted", func(t *testing.T) {
		_, err := Open(context.Background(), "mysql://zoe:secret@db/zoe", "")
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("got %v, want an error without the password", err)
		}
	})
}

func TestPostgresKind(t *testing.T) {
	s := openStore(t, freshPostgres(t), "")
	if got := s.Kind(); got != KindPostgres {
		t.Errorf("got kind %s, want %s", got, KindPostgres)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			dbURL, dir := b.location(t)
			ms, err := openStore(t, dbURL, dir).d.migrations()
			if err != nil {
				t.Fatal(err)
			}
			// Several processes starting at once, then a restart.
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for range 4 {
				wg.Go(func() {
					s, err := Open(context.Background(), dbURL, dir)
					if err == nil {
						err = s.Close()
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("concurrent Open: %v", err)
				}
			}
			s := openStore(t, dbURL, dir)
			if got := count(t, s, "schema_migrations"); got != len(ms) {
				t.Errorf("got %d applied migrations, want %d", got, len(ms))
			}
			if got := count(t, s, "quotas"); got != 1 {
				t.Errorf("got %d quotas, want only the default one", got)
			}
		})
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			dbURL, dir := b.location(t)
			s, err := Open(ctx, dbURL, dir)
			if err != nil {
				t.Fatal(err)
			}
			u := User{Username: "alice", Role: "admin", Source: "builtin", Enabled: true}
			if _, err := s.CreateUser(ctx, &u); err != nil {
				t.Fatal(err)
			}
			e := Execution{Name: "nb", UserID: u.ID, Description: []byte(`{"a":1}`)}
			services := sampleServices()
			if _, err := s.CreateExecution(ctx, &e, services); err != nil {
				t.Fatal(err)
			}
			if _, err := s.SettingOrCreate(ctx, "cookie-secret", "s3cret"); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s = openStore(t, dbURL, dir)
			gotUser, err := s.UserByName(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(u, gotUser); diff != "" {
				t.Errorf("user after restart (-want +got):\n%s", diff)
			}
			gotServices, err := s.ExecutionServices(ctx, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(services, gotServices); diff != "" {
				t.Errorf("services after restart (-want +got):\n%s", diff)
			}
			if got, err := s.Setting(ctx, "cookie-secret"); err != nil || got != "s3cret" {
				t.Errorf("got setting %q, %v; want s3cret", got, err)
			}
		})
	}
}

func TestIsUnavailable(t *testing.T) {
	dead := "postgres://zoe@/zoe?host=" + t.TempDir() + "&sslmode=disable&connect_timeout=2"
	_, err := Open(context.Background(), dead, "")
	if err == nil {
		t.Fatal("Open on a dead socket: got no error")
	}
	if !IsUnavailable(err) {
		t.Errorf("IsUnavailable(%v) = false, want true", err)
	}

	// A server that is up but refuses a database is not "unavailable".
	u, _ := url.Parse(freshPostgres(t))
	u.Path = "/no_such_database"
	if _, err := Open(context.Background(), u.String(), ""); err == nil || IsUnavailable(err) {
		t.Errorf("missing database: got %v (unavailable %t), want an error that is not unavailable", err, IsUnavailable(err))
	}

	for _, err := range []error{nil, ErrNotFound, fmt.Errorf("x: %w", ErrConflict), errors.New("syntax error")} {
		if IsUnavailable(err) {
			t.Errorf("IsUnavailable(%v) = true, want false", err)
		}
	}
}

func TestSQLiteReadPoolRefusesWrites(t *testing.T) {
	s := openStore(t, "", t.TempDir())
	if _, err := s.rdb.Exec(`INSERT INTO settings (key, value) VALUES ('a', 'b')`); err == nil {
		t.Error("write through the read pool: got no error, want one")
	}
}

func TestSettings(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if _, err := s.Setting(ctx, "missing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing setting: got %v, want ErrNotFound", err)
		}
		if err := s.SetSetting(ctx, "k", "v1"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetSetting(ctx, "k", "v2"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Setting(ctx, "k"); err != nil || got != "v2" {
			t.Errorf("got %q, %v; want v2", got, err)
		}
		if got, err := s.SettingOrCreate(ctx, "k", "v3"); err != nil || got != "v2" {
			t.Errorf("SettingOrCreate on an existing key: got %q, %v; want v2", got, err)
		}
	})
}

func TestSettingOrCreateRace(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		const n = 16
		got := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				v, err := s.SettingOrCreate(context.Background(), "cookie-secret", fmt.Sprintf("value-%d", i))
				if err != nil {
					t.Errorf("SettingOrCreate: %v", err)
				}
				got[i] = v
			})
		}
		wg.Wait()
		stored, err := s.Setting(context.Background(), "cookie-secret")
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			if v != stored {
				t.Errorf("caller %d got %q, want the stored %q", i, v, stored)
			}
		}
	})
}

func BenchmarkExecutionByID(b *testing.B) {
	for _, bk := range backends() {
		b.Run(bk.name, func(b *testing.B) {
			dbURL, dir := bk.location(b)
			s := openStore(b, dbURL, dir)
			u := newUser(b, s, "bench")
			e := newExecution(b, s, u.ID, StatusRunning)
			ctx := context.Background()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Execution(ctx, e.ID); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
