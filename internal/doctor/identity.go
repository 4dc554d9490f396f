package doctor

import (
	"strings"
)

// Principal kinds an ARN can name.
const (
	PrincipalSSO     = "sso"      // an IAM Identity Center permission set's role
	PrincipalIAMUser = "iam-user" // an IAM user (static keys)
	PrincipalRole    = "role"     // any other assumed role
	PrincipalRoot    = "root"     // the account's root user
	PrincipalOther   = "other"    // federated user, unknown
)

// Principal is what a caller ARN says about who is calling.
type Principal struct {
	Kind          string
	Name          string // user name, role name
	PermissionSet string // SSO only
	Session       string // assumed roles: the session name (the SSO user)
}

// ParseARN reads a GetCallerIdentity ARN:
//
//	arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_<PermSet>_<hex>/alice   SSO
//	arn:aws:iam::123456789012:user/path/backup                                   IAM user
//	arn:aws:sts::123456789012:assumed-role/SomeRole/session                      other role
//	arn:aws:iam::123456789012:root                                               root
func ParseARN(arn string) Principal {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return Principal{Kind: PrincipalOther, Name: arn}
	}
	service, resource := parts[2], parts[5]
	switch {
	case service == "iam" && resource == "root":
		return Principal{Kind: PrincipalRoot, Name: "root"}
	case service == "iam" && strings.HasPrefix(resource, "user/"):
		path := strings.TrimPrefix(resource, "user/")
		return Principal{Kind: PrincipalIAMUser, Name: path[strings.LastIndex(path, "/")+1:]}
	case service == "sts" && strings.HasPrefix(resource, "assumed-role/"):
		rest := strings.TrimPrefix(resource, "assumed-role/")
		role, session, _ := strings.Cut(rest, "/")
		p := Principal{Kind: PrincipalRole, Name: role, Session: session}
		// Identity Center names its roles AWSReservedSSO_<PermissionSet>_<16 hex>;
		// the permission set's own name may contain underscores.
		if ps, ok := strings.CutPrefix(role, "AWSReservedSSO_"); ok {
			if i := strings.LastIndex(ps, "_"); i > 0 && isHex(ps[i+1:]) {
				ps = ps[:i]
			}
			p.Kind, p.PermissionSet = PrincipalSSO, ps
		}
		return p
	}
	return Principal{Kind: PrincipalOther, Name: resource}
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Describe says in words who the principal is.
func (p Principal) Describe() string {
	switch p.Kind {
	case PrincipalSSO:
		return "IAM Identity Center (SSO) user " + quote(p.Session) + " with permission set " + quote(p.PermissionSet)
	case PrincipalIAMUser:
		return "IAM user " + quote(p.Name)
	case PrincipalRoot:
		return "the account's root user"
	case PrincipalRole:
		return "assumed role " + quote(p.Name) + " (session " + quote(p.Session) + ")"
	}
	return "principal " + quote(p.Name)
}

func quote(s string) string { return "\"" + s + "\"" }
