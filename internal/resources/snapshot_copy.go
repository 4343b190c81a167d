package resources

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/validate"
)

// copyHostValidator accepts an SSH address for snapshot.copy_to.host and
// refuses, with what to write instead, the forms people carry over from scp
// and ssh: user@host, host:/path, and blanks.
func copyHostValidator() validator.String {
	return validate.New("an SSH address (name or IP)", func(s string) (string, string, bool) {
		const summary = "Invalid snapshot copy host"
		switch {
		case strings.TrimSpace(s) == "":
			return summary, "snapshot.copy_to.host is empty. Write the SSH address (name or IP) of the host that keeps the copies, for example \"backup1.example.net\".", false
		case strings.IndexFunc(s, unicode.IsSpace) >= 0:
			return summary, fmt.Sprintf("%q contains a blank. Write only the SSH address (name or IP), for example \"backup1.example.net\".", s), false
		case strings.Contains(s, "@"):
			user, host, _ := strings.Cut(s, "@")
			return summary, fmt.Sprintf("%q names a user. The copy uses the provider's SSH settings, user included (ssh.user); write only the address: %q.", s, host) +
				fmt.Sprintf(" To log in as %q, set the provider's ssh.user.", user), false
		case strings.Contains(s, ":/"):
			host, dir, _ := strings.Cut(s, ":/")
			return summary, fmt.Sprintf("%q is in scp form. Write the address in host and the path in directory: host = %q, directory = %q.", s, host, "/"+dir), false
		}
		return "", "", true
	})
}

// copyDirectoryValidator accepts an absolute directory on the copy host.
func copyDirectoryValidator() validator.String {
	return validate.New("an absolute path on snapshot.copy_to.host", func(s string) (string, string, bool) {
		const summary = "Relative snapshot copy directory"
		switch {
		case strings.HasPrefix(s, "~"):
			return summary, fmt.Sprintf("%q starts with \"~\", which is not expanded in a quoted remote path. Write the absolute path on snapshot.copy_to.host, for example \"/home/backup/etcd\" or \"/var/backups/etcd\".", s), false
		case !strings.HasPrefix(s, "/"):
			return summary, fmt.Sprintf("%q is not absolute. snapshot.copy_to.directory is a path on snapshot.copy_to.host and must start with \"/\", for example \"/var/backups/etcd\".", s), false
		case strings.ContainsRune(s, 0):
			return "Invalid snapshot copy directory", "snapshot.copy_to.directory contains a NUL byte, which no path can hold.", false
		}
		return "", "", true
	})
}
