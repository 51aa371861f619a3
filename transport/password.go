package transport

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ReadPasswordFile reads an rsync daemon password: the first line of
// file, which must not be readable by group or others, like rsync's
// authenticate.c:getpassf (--password-file).
func ReadPasswordFile(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("read password file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("read password file: %w", err)
	}
	if fi.Mode().Perm()&0o044 != 0 {
		return "", fmt.Errorf("password file %s must not be other-accessible (it is readable by group or others; chmod 600 it)", file)
	}
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("password file %s is empty", file)
		}
		return "", fmt.Errorf("read password file %s: %w", file, err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
