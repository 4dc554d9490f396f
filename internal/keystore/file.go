package keystore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
)

// keyFileFormat names the plaintext layout inside the age file (see doc.go).
const keyFileFormat = "icevault-keys/v1"

// maxKeyFile bounds what is read: a key file holds a few short strings.
const maxKeyFile = 1 << 20

type keyFile struct {
	Format     string            `json:"format"`
	Repository string            `json:"repository"`
	Secrets    map[string]string `json:"secrets"`
}

// fileBackend keeps each repository's secrets in <dir>/<repo-id>.age, an age
// file encrypted to a passphrase (scrypt recipient).
type fileBackend struct {
	dir    string
	prompt func(PassphraseRequest) (string, error)
	logN   int
}

// renameFile is replaced by tests to interrupt a write at its last step.
var renameFile = os.Rename

func (f *fileBackend) path(repoID string) string { return filepath.Join(f.dir, repoID+".age") }

func (f *fileBackend) exists(repoID string) bool {
	_, err := os.Lstat(f.path(repoID))
	return err == nil
}

// checkDir refuses a key directory others can write to: they could swap the
// file. A missing directory is fine; it is created 0700 on the first write.
func (f *fileBackend) checkDir() error {
	fi, err := os.Stat(f.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keystore: key directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("keystore: key directory %s is not a directory", f.dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("keystore: %w: directory %s is %v, writable by other users; fix with: chmod 700 %s",
			ErrInsecureFile, f.dir, fi.Mode().Perm(), f.dir)
	}
	return nil
}

// read returns the encrypted file, or ErrNoSecrets. It refuses a file that
// others can read: the passphrase is all that protects it from them.
func (f *fileBackend) read(repoID string) ([]byte, error) {
	if err := f.checkDir(); err != nil {
		return nil, err
	}
	p := f.path(repoID)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("key file %s: %w", p, ErrNoSecrets)
	}
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file (%v)", p, fi.Mode().Type())
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is %v, readable or writable by other users; fix with: chmod 600 %s",
			ErrInsecureFile, p, fi.Mode().Perm(), p)
	}
	fh, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", p, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("key file %s is larger than %d bytes: not an icevault key file", p, maxKeyFile)
	}
	return data, nil
}

func (f *fileBackend) passphrase(repoID string, isNew bool) (string, error) {
	pass, err := f.prompt(PassphraseRequest{Path: f.path(repoID), New: isNew})
	if err != nil {
		return "", fmt.Errorf("passphrase prompt: %w", err)
	}
	if pass == "" {
		return "", errors.New("empty passphrase")
	}
	return pass, nil
}

// open decrypts the key file. It returns the passphrase too, so that a
// rewrite keeps it.
func (f *fileBackend) open(repoID string) (*keyFile, string, error) {
	data, err := f.read(repoID)
	if err != nil {
		return nil, "", err
	}
	pass, err := f.passphrase(repoID, false)
	if err != nil {
		return nil, "", err
	}
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		return nil, "", errors.New("passphrase not usable")
	}
	r, err := age.Decrypt(bytes.NewReader(data), id)
	var nomatch *age.NoIdentityMatchError
	if errors.As(err, &nomatch) {
		return nil, "", fmt.Errorf("%s: %w", f.path(repoID), ErrWrongPassphrase)
	}
	if err != nil {
		return nil, "", fmt.Errorf("key file %s is damaged or not an icevault key file: %w", f.path(repoID), err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return nil, "", fmt.Errorf("key file %s is damaged (authentication failed): %w", f.path(repoID), err)
	}
	var kf keyFile
	// The plaintext holds the secrets: report no detail of a parse failure.
	if json.Unmarshal(plain, &kf) != nil || kf.Format != keyFileFormat || kf.Secrets == nil {
		return nil, "", fmt.Errorf("key file %s decrypts but is not in the %s format", f.path(repoID), keyFileFormat)
	}
	if kf.Repository != repoID {
		return nil, "", fmt.Errorf("key file %s belongs to repository %q, not %q", f.path(repoID), kf.Repository, repoID)
	}
	return &kf, pass, nil
}

func (f *fileBackend) get(repoID string, names []string) (map[string]string, error) {
	kf, _, err := f.open(repoID)
	if err != nil {
		return nil, err
	}
	vals := make(map[string]string, len(names))
	var missing []string
	for _, n := range names {
		if v, ok := kf.Secrets[n]; ok {
			vals[n] = v
		} else {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("key file %s has no %s: %w", f.path(repoID), strings.Join(missing, ", "), ErrNoSecrets)
	}
	return vals, nil
}

func (f *fileBackend) put(repoID string, vals map[string]string, replace bool) error {
	if err := f.checkDir(); err != nil {
		return err
	}
	var (
		kf   *keyFile
		pass string
		err  error
	)
	if f.exists(repoID) {
		if kf, pass, err = f.open(repoID); err != nil {
			return err
		}
		var existing []string
		for _, n := range sortedNames(vals) {
			if _, ok := kf.Secrets[n]; ok {
				existing = append(existing, n)
			}
		}
		if len(existing) > 0 && !replace {
			return fmt.Errorf("key file %s has %s: %w", f.path(repoID), strings.Join(existing, ", "), ErrExists)
		}
	} else {
		if pass, err = f.passphrase(repoID, true); err != nil {
			return err
		}
		kf = &keyFile{Format: keyFileFormat, Repository: repoID, Secrets: map[string]string{}}
	}
	for n, v := range vals {
		kf.Secrets[n] = v
	}
	return f.write(repoID, kf, pass)
}

func (f *fileBackend) delete(repoID, name string) error {
	if !f.exists(repoID) {
		return nil
	}
	kf, pass, err := f.open(repoID)
	if err != nil {
		return fmt.Errorf("keystore: delete %s/%s: %w", repoID, name, err)
	}
	if _, ok := kf.Secrets[name]; !ok {
		return nil
	}
	delete(kf.Secrets, name)
	if len(kf.Secrets) == 0 {
		if err := os.Remove(f.path(repoID)); err != nil {
			return fmt.Errorf("keystore: delete %s/%s: %w", repoID, name, err)
		}
		return syncDir(f.dir)
	}
	if err := f.write(repoID, kf, pass); err != nil {
		return fmt.Errorf("keystore: delete %s/%s: %w", repoID, name, err)
	}
	return nil
}

// write replaces the key file atomically: a new file (0600) is written,
// synced and renamed over the old one, so a crash leaves the old file or the
// new one, never a torn one.
func (f *fileBackend) write(repoID string, kf *keyFile, pass string) error {
	plain, err := json.Marshal(kf)
	if err != nil {
		return fmt.Errorf("encode key file: %w", err)
	}
	rcp, err := age.NewScryptRecipient(pass)
	if err != nil {
		return errors.New("passphrase not usable")
	}
	if f.logN > 0 {
		rcp.SetWorkFactor(f.logN)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rcp)
	if err != nil {
		return fmt.Errorf("encrypt key file: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return fmt.Errorf("encrypt key file: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("encrypt key file: %w", err)
	}

	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	if err := f.checkDir(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(f.dir, "."+repoID+".age.tmp-*") // created 0600
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := renameFile(tmp.Name(), f.path(repoID)); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	done = true
	return syncDir(f.dir)
}

// syncDir makes a rename durable. Not every platform can fsync a directory;
// those errors are ignored there.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync key directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync key directory: %w", err)
	}
	return nil
}
