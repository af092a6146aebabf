package sqlstore

// DeclaredColumns is the columns every row struct declares, by table, for
// TestTablesMatchMigrations.
func DeclaredColumns() map[string][]string {
	out := map[string][]string{}
	for _, d := range []struct {
		name    string
		columns []string
	}{
		columnsOf[userRow](), columnsOf[credentialRow](), columnsOf[operationRow](), columnsOf[auditRow](),
		columnsOf[signingKeyRow](), columnsOf[ceremonyRow](), columnsOf[outboxRow](), columnsOf[applicationRow](),
		columnsOf[recoveryCodeRow](), columnsOf[pushTokenRow](), columnsOf[inboxRow](),
	} {
		out[d.name] = d.columns
	}
	return out
}

func columnsOf[R any]() struct {
	name    string
	columns []string
} {
	d := declare[R]()
	return struct {
		name    string
		columns []string
	}{d.name, d.columns}
}
