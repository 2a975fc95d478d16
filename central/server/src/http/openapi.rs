//! The hand-written OpenAPI 3 description of the JSON API.

use serde_json::{json, Value};

fn op(summary: &str, params: Value, ok: &str) -> Value {
    json!({
        "summary": summary,
        "parameters": params,
        "responses": {
            "200": {"description": ok},
            "400": {"description": "Bad input", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "404": {"description": "Unknown", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        }
    })
}

fn path_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
}

fn query_param(name: &str, ty: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}})
}

/// `POST /api/v1/digitisation/bags`.
fn bag_submission() -> Value {
    let error = json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
    json!({"post": {
        "summary": "Submit a digitised bag whose files were uploaded over tus (/files/, see docs/DIGITISATION.md); central assembles it, checks its fixity and keeps or quarantines it",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["job", "device", "branch", "files"], "properties": {
            "job": {"type": "string"}, "device": {"type": "string"}, "branch": {"type": "string"},
            "files": {"type": "array", "items": {"type": "object", "required": ["path", "upload"], "properties": {"path": {"type": "string"}, "upload": {"type": "string"}}}}
        }}}}},
        "responses": {
            "200": {"description": "BagVerdict: `{state: \"safe\", document}` or `{state: \"refused\", reason, file?}`; the same job again answers the same safe verdict"},
            "400": {"description": "Malformed submission (bad job id, unsafe path, a file named twice)", "content": error.clone()},
            "409": {"description": "An upload is unknown, unfinished or made for another job or path: check with HEAD and try again", "content": error}
        }
    }})
}

/// The device identity routes: enrolment, revocation and the quarantine.
fn device_identity(doc: &mut Value) {
    doc["paths"]["/api/v1/device/enrol"] = json!({"post": {
        "summary": "A board enrols: spends a one-time code from `central device enrol` with the public key it made; at most 10 attempts a minute from one address",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["code", "public_key"], "properties": {
            "code": {"type": "string", "description": "RONG- and four groups of five Crockford base32 characters; any case, dashes optional"},
            "public_key": {"type": "string", "description": "The board's Ed25519 public key, base64"}
        }}}}},
        "responses": {
            "200": {"description": "`{device, branch, role, central_public_key, tls: {certificate, ca, expires_ms}}`: the board's identity, central's key to pin, and a certificate for the board's key from central's CA with that CA (PEM) to pin"},
            "400": {"description": "Not a public key"},
            "403": {"description": "The code is unknown, expired or already used"},
            "429": {"description": "Too many attempts from this address (Retry-After)"}
        }
    }});
    doc["paths"][rong_identity::pin::PIN_PATH] = json!({"post": {
        "summary": "A board asks central to check a reader's PIN: central holds the PIN hashes and every card's failure count, so a lockout (`[pins]`: by default 5 wrong PINs lock the card for an hour) holds on every device",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["card", "pin"], "properties": {
            "card": {"type": "string"}, "pin": {"type": "string", "maxLength": 32}
        }}}}},
        "responses": {
            "200": {"description": "`{outcome: right|not_needed|wrong|locked|unknown_patron, locked_until_ms?}`"},
            "400": {"description": "Not a card number, or no PIN"},
            "401": {"description": "Not a device's signed request"},
            "409": {"description": "Another attempt for this card is being checked"}
        }
    }});
    doc["paths"][rong_identity::CERTIFICATE_PATH] = json!({"post": {
        "summary": "A board renews its TLS certificate: central certifies the key the board enrolled with (nothing in the request but its signature)",
        "responses": {
            "200": {"description": "`{certificate, ca, expires_ms}`: PEM texts and the expiry (Unix ms)"},
            "401": {"description": "Not a device's signed request"},
            "403": {"description": "The device is revoked"}
        }
    }});
    doc["paths"]["/api/v1/devices/{id}/revoke"] = json!({"post": op(
        "Revoke a device at once: its signed requests get 403 and its events go to the quarantine",
        json!([path_param("id")]), "`{revoked: id}`")});
    doc["paths"]["/api/v1/quarantine"] = json!({"get": op(
        "Event batches set aside (from revoked or unenrolled devices, or sent on another branch's topic), newest first; undecided ones unless all=true",
        json!([query_param("all", "boolean")]),
        "Array of `{id, received_at, branch, device, reason, events, decision, decided_by}`")});
    doc["paths"]["/api/v1/quarantine/{id}/{decision}"] = json!({"post": op(
        "Accept (apply through the normal ingest, each event once) or discard a quarantined batch; administrators only",
        json!([path_param("id"), {"name": "decision", "in": "path", "required": true, "schema": {"type": "string", "enum": ["accept", "discard"]}}]),
        "`{id, accepted}`")});
}

/// The document, each operation with the security of its group: `staff`, `operator` and
/// `device` list those groups' paths (from the route table); every other path needs none.
pub fn document(staff: &[&str], operator: &[&str], device: &[&str]) -> Value {
    let mut doc = document_base();
    doc["paths"]["/api/v1/digitisation/bags"] = bag_submission();
    device_identity(&mut doc);
    secure(&mut doc, staff, operator, device);
    doc
}

/// Declares the security schemes, and on every operation the security its group requires
/// with its 401 and 403 answers.
fn secure(doc: &mut Value, staff: &[&str], operator: &[&str], device: &[&str]) {
    doc["components"]["securitySchemes"] = json!({
        "deviceAuth": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`Rong-Device id=\"…\", ts=\"<unix ms>\", sig=\"<base64>\"`: the enrolled device key's Ed25519 signature over `rong-device-v1\\n{METHOD}\\n{path?query}\\n{ts}\\n{device}`, within 5 minutes of central's clock (README, \"Devices: enrolment and revocation\")"},
        "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API token from `central token create --role admin|staff|readonly [--branch B] --label L`; on /metrics and this document, the operator token (http.operator_token_file) or an administrator's API token"},
        "cookieAuth": {"type": "apiKey", "in": "cookie", "name": central_web::SESSION_COOKIE, "description": "The dashboard's session; a POST or DELETE must also send the session's CSRF token in X-CSRF-Token"}
    });
    let error = json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, ops) in paths.iter_mut() {
        let (is_staff, is_operator, is_device) = (
            staff.contains(&path.as_str()),
            operator.contains(&path.as_str()),
            device.contains(&path.as_str()),
        );
        let Some(ops) = ops.as_object_mut() else {
            continue;
        };
        for op in ops.values_mut() {
            let (security, denied) = match (is_staff, is_operator, is_device) {
                (true, _, _) => (
                    json!([{"bearerAuth": []}, {"cookieAuth": []}]),
                    "Another branch's data, a change with read-only credentials, or a cookie change without X-CSRF-Token",
                ),
                (_, true, _) => (
                    json!([{"bearerAuth": []}]),
                    "Not an operator token or an administrator's API token",
                ),
                (_, _, true) => (
                    json!([{"deviceAuth": []}]),
                    "A revoked device, or another branch's or device's data",
                ),
                // Public routes and enrolment (the code is the credential).
                _ => {
                    op["security"] = json!([]);
                    continue;
                }
            };
            op["security"] = security;
            let unauthorised = if is_device {
                "No device signature, an unknown device, a bad signature, or a clock more than 5 minutes off (the body then carries server_time_ms)"
            } else {
                "No credentials, or unknown, revoked or expired ones (WWW-Authenticate: Bearer)"
            };
            op["responses"]["401"] = json!({"description": unauthorised, "content": error.clone()});
            op["responses"]["403"] = json!({"description": denied, "content": error.clone()});
        }
    }
}

fn document_base() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Rông central API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "JSON API of Rông central. Times are milliseconds since the Unix epoch; dates are ISO yyyy-mm-dd. Staff operations take an API token (Authorization: Bearer) or the dashboard's session cookie; branch staff and read-only callers see only their branch, and read-only callers change nothing. /metrics and this document take the operator token, or answer loopback peers when none is configured."
        },
        "paths": {
            "/healthz": {"get": op("Health", json!([]), "`{ok: true, change_version}`")},
            "/metrics": {"get": op("Prometheus metrics (text format)", json!([]), "Prometheus text")},
            "/api/v1/openapi.json": {"get": op("This document", json!([]), "OpenAPI 3")},
            "/api/v1/stats": {"get": op("Counters", json!([]), "`{events_applied, events_replayed, rejected_messages, change_version, loans_active, snapshots_served, ...}`")},
            "/api/v1/loans": {"get": op("Loans, newest first",
                json!([query_param("patron", "string"), query_param("item", "string"), query_param("active", "boolean"), query_param("limit", "integer")]),
                "Array of Loan; `active` defaults to true, `active=false` lists history too")},
            "/api/v1/patrons/{card}": {"get": op("A patron (no PIN hash) with active loans", json!([path_param("card")]), "Patron")},
            "/api/v1/patrons/{card}/block": {
                "post": {
                    "summary": "Block a patron; devices learn of it by delta",
                    "parameters": [path_param("card")],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}}}}}},
                    "responses": {"200": {"description": "The updated patron"}, "400": {"description": "Bad input"}, "404": {"description": "Unknown patron"}}
                },
                "delete": op("Lift a patron's block", json!([path_param("card")]), "The updated patron")
            },
            "/api/v1/items/{barcode}": {"get": op("An item with its active loan (or null)", json!([path_param("barcode")]), "Item")},
            "/api/v1/search": {"get": op("Catalogue search with Vietnamese folding (case, diacritics, đ → d); the last word matches as a prefix. Ranked: exact title, title prefix, title words, author, subject, ISBN and call number",
                json!([query_param("q", "string"), query_param("limit", "integer")]),
                "`{query, hits: [{record, title, author, subjects, publisher, year, isbn, call_number, branches: [{branch, name, available, total}]}]}`")},
            "/api/v1/devices": {"get": op("Registered devices", json!([]), "Array of Device")},
            "/api/v1/devices/{id}": {"get": op("A device: latest status, state, last_seen, event logs with acked_through, status timeline, commands and replies", json!([path_param("id")]), "DeviceDetail")},
            "/api/v1/devices/{id}/commands": {
                "post": {
                    "summary": "Send a command to a device",
                    "parameters": [path_param("id")],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["command"], "properties": {"command": {"type": "string", "enum": ["sync_now", "reload_config", "show_message", "reboot"]}, "text": {"type": "string"}, "seconds": {"type": "integer"}}}}}},
                    "responses": {"200": {"description": "`{id}`: the correlation id"}, "400": {"description": "Bad input"}, "404": {"description": "Unknown device"}}
                }
            },
            "/api/v1/notices": {"get": op("Notices raised by reconciliation", json!([query_param("kind", "string"), query_param("open", "boolean")]), "Array of Notice")},
            "/api/v1/events": {"get": op("Events central recorded from one device, by log and seq",
                json!([{"name": "device", "in": "query", "required": true, "schema": {"type": "string"}}]),
                "Array of `{device, log, seq, event_id, kind, outcome, device_at, received_at, item, patron}`")},
            "/api/v1/snapshot/{branch}": {"get": {
                "summary": "Snapshot for a branch: gzip JSON lines, a SnapshotHeader then Op::Put* lines",
                "parameters": [path_param("branch")],
                "responses": {"200": {"description": "application/gzip"}, "404": {"description": "Unknown branch"}}
            }}
        },
        "components": {
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Loan": {"type": "object", "properties": {
                    "item": {"type": "string"}, "patron": {"type": "string"}, "branch": {"type": "string"},
                    "device": {"type": "string", "nullable": true}, "loaned_at": {"type": "integer"},
                    "due": {"type": "string", "format": "date"}, "renewals": {"type": "integer"},
                    "returned_at": {"type": "integer", "nullable": true}, "missed_return": {"type": "boolean"}
                }}
            }
        }
    })
}
