#include "gdoi_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <string_view>

#include "gikev2.h"

namespace groupsec::gdoi {

namespace {

constexpr uint32_t kMaxU32 = 0xffffffffu;
// Shortest TEK and KEK lifetime: a rekey must have time to reach members.
constexpr uint32_t kMinLifetime = 60;

Error bad(std::string message)
{
	return make_error(WireError::BadValue, std::move(message));
}

// The value in double quotes, control octets as \xNN.
std::string quote(std::string_view s)
{
	std::string out = "\"";
	for (unsigned char c : s) {
		if (c == '"' || c == '\\') {
			out += '\\';
			out += static_cast<char>(c);
		} else if (c < 0x20 || c == 0x7f) {
			char buf[8];
			snprintf(buf, sizeof(buf), "\\x%02x", c);
			out += buf;
		} else {
			out += static_cast<char>(c);
		}
	}
	return out + "\"";
}

bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s)
{
	while (!s.empty() && is_space(s.front()))
		s.remove_prefix(1);
	while (!s.empty() && is_space(s.back()))
		s.remove_suffix(1);
	return s;
}

bool has_control(std::string_view s)
{
	return std::any_of(s.begin(), s.end(), [](char c) {
		auto u = static_cast<unsigned char>(c);
		return u < 0x20 || u == 0x7f;
	});
}

bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

// A decimal number up to max; nullopt for anything else (sign, hex, empty).
std::optional<uint64_t> decimal(std::string_view s, uint64_t max)
{
	if (s.empty())
		return std::nullopt;
	uint64_t v = 0;
	for (char c : s) {
		if (!is_digit(c))
			return std::nullopt;
		v = v * 10 + static_cast<uint64_t>(c - '0');
		if (v > max)
			return std::nullopt;
	}
	return v;
}

// Comma-separated list, each element trimmed; an empty element stays
// empty so that the caller can reject it.
std::vector<std::string_view> split_list(std::string_view s)
{
	std::vector<std::string_view> out;
	size_t start = 0;
	for (;;) {
		size_t comma = s.find(',', start);
		out.push_back(trim(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
		if (comma == std::string_view::npos)
			return out;
		start = comma + 1;
	}
}

// --- addresses ---

// An IPv4 or IPv6 address literal, 4 or 16 octets.
std::optional<Bytes> parse_ip(std::string_view s)
{
	if (s.empty() || s.size() > 64 || has_control(s))
		return std::nullopt;
	std::string z(s);
	if (z.find(':') != std::string::npos) {
		in6_addr a;
		if (inet_pton(AF_INET6, z.c_str(), &a) != 1)
			return std::nullopt;
		return Bytes(a.s6_addr, a.s6_addr + 16);
	}
	in_addr a;
	if (inet_pton(AF_INET, z.c_str(), &a) != 1)
		return std::nullopt;
	const auto *p = reinterpret_cast<const uint8_t *>(&a.s_addr);
	return Bytes(p, p + 4);
}

bool is_multicast(const Bytes &ip)
{
	if (ip.size() == 4)
		return (ip[0] & 0xf0) == 0xe0;
	return ip.size() == 16 && ip[0] == 0xff;
}

bool is_unspecified(const Bytes &ip)
{
	return std::all_of(ip.begin(), ip.end(), [](uint8_t b) { return b == 0; });
}

const char *family_name(const Bytes &ip)
{
	return ip.size() == 4 ? "IPv4" : "IPv6";
}

// --- identities ---

void der_append(Bytes &out, uint8_t tag, const Bytes &content)
{
	out.push_back(tag);
	size_t n = content.size();
	if (n < 0x80) {
		out.push_back(static_cast<uint8_t>(n));
	} else {
		uint8_t len[sizeof(size_t)];
		size_t k = 0;
		for (size_t v = n; v; v >>= 8)
			len[k++] = static_cast<uint8_t>(v & 0xff);
		out.push_back(static_cast<uint8_t>(0x80 | k));
		while (k)
			out.push_back(len[--k]);
	}
	out.insert(out.end(), content.begin(), content.end());
}

constexpr uint8_t kDerUtf8String = 0x0c;
constexpr uint8_t kDerPrintableString = 0x13;
constexpr uint8_t kDerIa5String = 0x16;
constexpr uint8_t kDerSequence = 0x30;
constexpr uint8_t kDerSet = 0x31;
constexpr uint8_t kDerOid = 0x06;

// Relative distinguished name attributes by the names strongSwan uses.
struct RdnAttribute {
	const char *name;
	Bytes oid; // encoded OID content
	bool ia5 = false; // IA5String, else PrintableString or UTF8String
};

const std::vector<RdnAttribute> &rdn_attributes()
{
	static const std::vector<RdnAttribute> table = [] {
		auto x520 = [](uint8_t n) { return Bytes{0x55, 0x04, n}; };
		Bytes email{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01};
		Bytes pilot{0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01};
		Bytes dc = pilot, uid = pilot;
		dc.push_back(25);
		uid.push_back(1);
		return std::vector<RdnAttribute>{
			{"CN", x520(3)}, {"SN", x520(4)}, {"serialNumber", x520(5)}, {"C", x520(6)},
			{"L", x520(7)}, {"ST", x520(8)}, {"STREET", x520(9)}, {"O", x520(10)},
			{"OU", x520(11)}, {"T", x520(12)}, {"D", x520(13)}, {"postalCode", x520(17)},
			{"N", x520(41)}, {"G", x520(42)}, {"I", x520(43)}, {"dnQualifier", x520(46)},
			{"pseudonym", x520(65)}, {"DC", dc}, {"UID", uid}, {"E", email, true},
			{"Email", email, true}, {"emailAddress", email, true},
		};
	}();
	return table;
}

bool equal_nocase(std::string_view a, std::string_view b)
{
	if (a.size() != b.size())
		return false;
	for (size_t i = 0; i < a.size(); i++) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = static_cast<char>(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = static_cast<char>(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

bool printable_string(std::string_view s)
{
	static const char extra[] = " '()+,-./:=?";
	return std::all_of(s.begin(), s.end(), [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
		       (c != '\0' && strchr(extra, c) != nullptr);
	});
}

// "C=CH, O=Example, CN=gm1" or "/C=CH/O=Example/CN=gm1" to the DER of a
// Name, one attribute per RDN, the string types strongSwan chooses.
Result<Bytes> encode_dn(std::string_view s)
{
	char sep = ',';
	s = trim(s);
	if (!s.empty() && s.front() == '/') {
		sep = '/';
		s.remove_prefix(1);
	}
	Bytes rdns;
	size_t start = 0;
	for (;;) {
		size_t end = s.find(sep, start);
		std::string_view part = trim(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
		if (part.empty())
			return bad("empty attribute");
		size_t eq = part.find('=');
		if (eq == std::string_view::npos)
			return bad("attribute " + quote(part) + " without a value");
		std::string_view name = trim(part.substr(0, eq));
		std::string_view value = trim(part.substr(eq + 1));
		const RdnAttribute *attr = nullptr;
		for (const auto &a : rdn_attributes()) {
			if (equal_nocase(a.name, name))
				attr = &a;
		}
		if (!attr)
			return bad("unknown attribute " + quote(name));
		uint8_t type = attr->ia5 ? kDerIa5String : printable_string(value) ? kDerPrintableString : kDerUtf8String;
		Bytes atv;
		der_append(atv, kDerOid, attr->oid);
		der_append(atv, type, Bytes(value.begin(), value.end()));
		Bytes seq;
		der_append(seq, kDerSequence, atv);
		der_append(rdns, kDerSet, seq);
		if (end == std::string_view::npos)
			break;
		start = end + 1;
	}
	Bytes dn;
	der_append(dn, kDerSequence, rdns);
	return dn;
}

Identity make_identity(IdType type, Bytes data)
{
	Identity id;
	id.type = static_cast<uint8_t>(type);
	id.data = std::move(data);
	return id;
}

Bytes to_bytes(std::string_view s)
{
	return Bytes(s.begin(), s.end());
}

std::optional<Bytes> parse_hex(std::string_view s)
{
	if (s.empty() || s.size() % 2)
		return std::nullopt;
	Bytes out;
	for (size_t i = 0; i < s.size(); i += 2) {
		int v = 0;
		for (size_t j = i; j < i + 2; j++) {
			char c = s[j];
			int d = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
			if (d < 0)
				return std::nullopt;
			v = v * 16 + d;
		}
		out.push_back(static_cast<uint8_t>(v));
	}
	return out;
}

// An identity in swanctl's notation (see Identity::parse); the error
// message is the reason only.
Result<Identity> identity_from(std::string_view text)
{
	std::string_view s = trim(text);
	auto fail = [](const std::string &why) { return bad(why); };
	if (s.empty())
		return fail("empty");
	if (has_control(s))
		return fail("control character");

	struct Prefix {
		const char *name;
		IdType type;
	};
	static const Prefix prefixes[] = {
		{"ipv4:", IdType::Ipv4Addr}, {"ipv6:", IdType::Ipv6Addr}, {"fqdn:", IdType::Fqdn},
		{"rfc822:", IdType::Rfc822Addr}, {"email:", IdType::Rfc822Addr}, {"userfqdn:", IdType::Rfc822Addr},
		{"keyid:", IdType::KeyId},
	};
	for (const auto &p : prefixes) {
		size_t n = strlen(p.name);
		if (s.size() < n || !equal_nocase(s.substr(0, n), p.name))
			continue;
		std::string_view rest = s.substr(n);
		if (rest.empty())
			return fail("empty");
		if (p.type == IdType::Ipv4Addr || p.type == IdType::Ipv6Addr) {
			auto ip = parse_ip(rest);
			if (!ip || (ip->size() == 4) != (p.type == IdType::Ipv4Addr))
				return fail(std::string("not an ") + (p.type == IdType::Ipv4Addr ? "IPv4" : "IPv6") + " address");
			return make_identity(p.type, *ip);
		}
		if (p.type == IdType::KeyId && rest.front() == '#') {
			auto hex = parse_hex(rest.substr(1));
			if (!hex)
				return fail("key ID \"#\" needs an even number of hex digits");
			return make_identity(IdType::KeyId, *hex);
		}
		return make_identity(p.type, to_bytes(rest));
	}

	if (s.front() == '@') {
		std::string_view rest = s.substr(1);
		if (!rest.empty() && rest.front() == '#') {
			auto hex = parse_hex(rest.substr(1));
			if (!hex)
				return fail("key ID \"@#\" needs an even number of hex digits");
			return make_identity(IdType::KeyId, *hex);
		}
		if (!rest.empty() && rest.front() == '@') {
			if (rest.size() == 1)
				return fail("empty");
			return make_identity(IdType::Rfc822Addr, to_bytes(rest.substr(1)));
		}
		if (rest.empty())
			return fail("empty");
		return make_identity(IdType::Fqdn, to_bytes(rest));
	}
	if (s.find('=') != std::string_view::npos) {
		auto dn = encode_dn(s);
		if (!dn.ok())
			return fail("distinguished name: " + dn.error().message);
		return make_identity(IdType::DerAsn1Dn, dn.value());
	}
	if (s.find('@') != std::string_view::npos)
		return make_identity(IdType::Rfc822Addr, to_bytes(s));
	if (auto ip = parse_ip(s))
		return make_identity(ip->size() == 4 ? IdType::Ipv4Addr : IdType::Ipv6Addr, *ip);
	return make_identity(IdType::Fqdn, to_bytes(s));
}

Result<Identity> identity_setting(std::string_view text)
{
	auto id = identity_from(text);
	if (!id.ok())
		return bad(quote(text) + " is not an identity (" + id.error().message + ")");
	return id;
}

// --- traffic selectors ---

struct ProtocolName {
	const char *name;
	uint8_t number;
};

constexpr uint8_t kIcmp = 1;
constexpr uint8_t kIcmpv6 = 58;

const ProtocolName kProtocols[] = {
	{"icmp", kIcmp}, {"tcp", 6}, {"udp", 17}, {"gre", 47}, {"esp", 50}, {"ah", 51},
	{"ipv6-icmp", kIcmpv6}, {"icmpv6", kIcmpv6}, {"sctp", 132},
};

} // namespace

Result<TrafficSelector> parse_traffic_selector(const std::string &text)
{
	auto fail = [&](const std::string &why) { return bad(quote(text) + " is not a traffic selector (" + why + ")"); };
	std::string_view s = trim(text);
	if (s.empty())
		return fail("empty");
	if (has_control(s))
		return fail("control character");

	uint8_t proto = 0;
	uint16_t from = 0, to = 0xffff;
	std::string_view addr = s;
	size_t bracket = s.find('[');
	if (bracket != std::string_view::npos) {
		if (s.back() != ']')
			return fail("\"[\" without a closing \"]\" at the end");
		std::string_view pp = s.substr(bracket + 1, s.size() - bracket - 2);
		addr = trim(s.substr(0, bracket));
		std::string_view proto_text = pp, port_text;
		size_t slash = pp.find('/');
		if (slash != std::string_view::npos) {
			proto_text = pp.substr(0, slash);
			port_text = pp.substr(slash + 1);
		}
		proto_text = trim(proto_text);
		port_text = trim(port_text);
		if (!proto_text.empty() && proto_text != "any") {
			bool named = false;
			for (const auto &p : kProtocols) {
				if (proto_text == p.name) {
					proto = p.number;
					named = true;
				}
			}
			if (!named) {
				auto n = decimal(proto_text, 255);
				if (!n)
					return fail("unknown protocol " + quote(proto_text));
				proto = static_cast<uint8_t>(*n);
			}
		}
		if (port_text == "opaque") {
			from = 0xffff;
			to = 0;
		} else if (!port_text.empty() && port_text != "any") {
			size_t dash = port_text.find('-');
			auto lo = decimal(trim(port_text.substr(0, dash)), 0xffff);
			auto hi = dash == std::string_view::npos ? lo : decimal(trim(port_text.substr(dash + 1)), 0xffff);
			if (!lo || !hi)
				return fail("port " + quote(port_text) + " is not a number or range from 0 to 65535");
			if (*lo > *hi)
				return fail("port range " + quote(port_text) + " ends below its start");
			from = static_cast<uint16_t>(*lo);
			to = static_cast<uint16_t>(*hi);
		}
		if (proto == kIcmp || proto == kIcmpv6) {
			// as strongSwan: a number below 256 is an ICMP type (code 0)
			if (from < 256)
				from = static_cast<uint16_t>(from << 8);
			if (to < 256)
				to = static_cast<uint16_t>(to << 8);
		}
	}
	if (addr == "dynamic")
		return fail("\"dynamic\" has no meaning in a group policy");

	Bytes start, end;
	size_t dash = addr.find('-');
	if (dash != std::string_view::npos && addr.find('/') == std::string_view::npos) {
		auto a = parse_ip(trim(addr.substr(0, dash)));
		auto b = parse_ip(trim(addr.substr(dash + 1)));
		if (!a || !b)
			return fail("range bounds must be IP addresses");
		if (a->size() != b->size())
			return fail("range bounds of different address families");
		if (*a > *b)
			return fail("range ends below its start");
		start = *a;
		end = *b;
	} else {
		size_t slash = addr.find('/');
		auto ip = parse_ip(trim(addr.substr(0, slash)));
		if (!ip)
			return fail("not an IP address or subnet");
		size_t bits = ip->size() * 8;
		size_t prefix = bits;
		if (slash != std::string_view::npos) {
			auto n = decimal(trim(addr.substr(slash + 1)), 255);
			if (!n)
				return fail("prefix length is not a number");
			if (*n > bits)
				return fail("prefix length above " + std::to_string(bits));
			prefix = static_cast<size_t>(*n);
		}
		start = *ip;
		end = *ip;
		for (size_t i = 0; i < ip->size(); i++) {
			size_t keep = prefix > i * 8 ? std::min<size_t>(8, prefix - i * 8) : 0;
			uint8_t mask = static_cast<uint8_t>(keep ? 0xff << (8 - keep) : 0);
			start[i] = static_cast<uint8_t>(start[i] & mask);
			end[i] = static_cast<uint8_t>(end[i] | ~mask);
		}
	}
	TrafficSelector ts;
	ts.ts_type = static_cast<uint8_t>(start.size() == 4 ? TsType::Ipv4AddrRange : TsType::Ipv6AddrRange);
	ts.ip_protocol = proto;
	ts.start_port = from;
	ts.end_port = to;
	ts.start_address = std::move(start);
	ts.end_address = std::move(end);
	return ts;
}

Result<uint32_t> parse_duration(const std::string &text)
{
	auto fail = [&](const std::string &why) { return bad(quote(text) + " is not a duration (" + why + ")"); };
	std::string_view s = trim(text);
	size_t digits = 0;
	while (digits < s.size() && is_digit(s[digits]))
		digits++;
	if (digits == 0)
		return fail("a number of seconds, optionally with s, m, h or d");
	std::string_view unit = trim(s.substr(digits));
	uint64_t scale = 1;
	if (unit == "m")
		scale = 60;
	else if (unit == "h")
		scale = 3600;
	else if (unit == "d")
		scale = 86400;
	else if (!unit.empty() && unit != "s")
		return fail("unit " + quote(unit) + " is not s, m, h or d");
	auto n = decimal(s.substr(0, digits), kMaxU32);
	if (!n || *n * scale > kMaxU32)
		return fail("above 4294967295 seconds");
	return static_cast<uint32_t>(*n * scale);
}

bool operator==(const EspProposal &a, const EspProposal &b)
{
	return a.encryption == b.encryption && a.key_bits == b.key_bits && a.integrity == b.integrity;
}

Result<EspProposal> parse_esp_proposal(const std::string &text)
{
	auto fail = [&](const std::string &why) {
		return bad(quote(text) + " is not an ESP proposal (" + why +
			   "; supported: aes128gcm16, aes192gcm16, aes256gcm16, aes128-sha256, aes192-sha256, aes256-sha256)");
	};
	std::string_view s = trim(text);
	if (s.find(',') != std::string_view::npos)
		return fail("one proposal only");
	std::vector<std::string_view> tokens;
	size_t start = 0;
	for (;;) {
		size_t dash = s.find('-', start);
		tokens.push_back(s.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start));
		if (dash == std::string_view::npos)
			break;
		start = dash + 1;
	}
	std::string_view enc = tokens[0];
	if (enc.substr(0, 3) != "aes")
		return fail("encryption must be AES");
	enc.remove_prefix(3);
	EspProposal p;
	p.key_bits = 128;
	for (uint16_t bits : {uint16_t{128}, uint16_t{192}, uint16_t{256}}) {
		std::string b = std::to_string(bits);
		if (enc.substr(0, b.size()) == b) {
			p.key_bits = bits;
			enc.remove_prefix(b.size());
			break;
		}
	}
	if (enc.empty()) {
		p.encryption = static_cast<uint16_t>(EncryptionId::AesCbc);
		if (tokens.size() < 2)
			return fail("AES-CBC needs an integrity algorithm");
		if (tokens[1] != "sha256" && tokens[1] != "sha2_256")
			return fail("integrity " + quote(tokens[1]) + " is not sha256");
		p.integrity = static_cast<uint16_t>(IntegrityId::HmacSha256_128);
		if (tokens.size() > 2)
			return fail("unsupported " + quote(tokens[2]));
		return p;
	}
	if (enc == "gcm16" || enc == "gcm128") {
		p.encryption = static_cast<uint16_t>(EncryptionId::AesGcm16);
		p.integrity = static_cast<uint16_t>(IntegrityId::None);
		if (tokens.size() > 1)
			return fail(tokens[1].substr(0, 3) == "sha" ? "AES-GCM takes no integrity algorithm"
								     : "unsupported " + quote(tokens[1]));
		return p;
	}
	if (enc.substr(0, 3) == "gcm")
		return fail("AES-GCM with a 16-octet ICV only");
	return fail("unknown encryption algorithm " + quote(tokens[0]));
}

Result<Identity> parse_identity(const std::string &s)
{
	return identity_setting(s);
}

// One parser for identities everywhere (configuration, control socket),
// so that a DN encodes to the same octets as strongSwan's.
std::optional<Identity> Identity::parse(const std::string &s)
{
	auto id = parse_identity(s);
	if (!id)
		return std::nullopt;
	return id.value();
}

Result<Identity> parse_group_id(const std::string &text)
{
	std::string_view s = trim(text);
	if (!s.empty() && std::all_of(s.begin(), s.end(), is_digit)) {
		auto n = decimal(s, kMaxU32);
		if (!n)
			return bad(quote(text) + " is not a group ID (numbers go up to 4294967295)");
		uint32_t v = static_cast<uint32_t>(*n);
		return make_identity(IdType::KeyId, Bytes{static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
							 static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)});
	}
	auto id = identity_from(text);
	if (!id.ok())
		return bad(quote(text) + " is not a group ID (" + id.error().message + ")");
	return id;
}

// A tunnel endpoint's gateway port carries no meaning, so it is not compared.
bool operator==(const TunnelEndpoint &a, const TunnelEndpoint &b)
{
	return a.gateway.ip == b.gateway.ip && a.prefixes == b.prefixes;
}

namespace {

// --- settings layout ---

enum class Scope { Both, Server, Member };

struct GroupKey {
	const char *name;
	Scope scope;
};

const GroupKey kGroupKeys[] = {
	{"role", Scope::Both},
	{"group_id", Scope::Both},
	{"local_id", Scope::Both},
	{"auth", Scope::Both},
	{"rekey_auth", Scope::Both},
	{"multicast", Scope::Both},
	{"listen", Scope::Server},
	{"members", Scope::Server},
	{"tek_lifetime", Scope::Server},
	{"kek_lifetime", Scope::Server},
	{"activation_delay", Scope::Server},
	{"deactivation_delay", Scope::Server},
	{"rekey", Scope::Server},
	{"id_bits", Scope::Server},
	{"key_hierarchy", Scope::Server},
	{"local_addrs", Scope::Member},
	{"servers", Scope::Member},
	{"server_id", Scope::Member},
	{"reregister_margin", Scope::Member},
	{"sender_ids", Scope::Member},
};

const char *const kTekKeys[] = {"local_ts", "remote_ts", "esp_proposal"};
const char *const kEndpointKeys[] = {"gateway", "prefixes"};
constexpr std::string_view kEndpoints = "endpoints";

bool valid_name(std::string_view s)
{
	return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '_';
	});
}

bool is_tek_section(std::string_view s)
{
	return s.size() > 4 && s.substr(0, 4) == "tek-";
}

const GroupKey *find_group_key(std::string_view s)
{
	for (const auto &k : kGroupKeys) {
		if (s == k.name)
			return &k;
	}
	return nullptr;
}

template <size_t N> bool one_of(std::string_view s, const char *const (&names)[N])
{
	return std::any_of(std::begin(names), std::end(names), [&](const char *n) { return s == n; });
}

struct Setting {
	std::vector<std::string> path; // below the group
	std::string key; // the path joined by "."
	const std::string *value;
};

struct Group {
	std::string name;
	std::vector<Setting> settings;
	std::map<std::string, const std::string *> values; // by key
	std::vector<std::string> teks; // section names in order of appearance
	std::vector<std::string> endpoints;
};

using Problem = std::optional<std::string>;

// Checks where a setting sits, and which role it belongs to.
Problem check_layout(const Group &g, const Setting &s, Scope &scope)
{
	std::string where = "groups." + g.name + (s.key.empty() ? "" : "." + s.key);
	const auto &p = s.path;
	if (p.empty())
		return where + ": must be a section";
	if (p.size() == 1) {
		if (const GroupKey *k = find_group_key(p[0])) {
			scope = k->scope;
			return std::nullopt;
		}
		if (p[0] == kEndpoints || is_tek_section(p[0]))
			return where + ": must be a section";
		return where + ": unknown setting";
	}
	if (is_tek_section(p[0])) {
		if (p.size() == 2 && one_of(p[1], kTekKeys)) {
			scope = Scope::Server;
			return std::nullopt;
		}
		return where + ": unknown setting";
	}
	if (p[0] == kEndpoints) {
		if (p.size() == 2)
			return where + ": must be a section";
		if (p.size() == 3 && one_of(p[2], kEndpointKeys)) {
			scope = Scope::Member;
			return std::nullopt;
		}
		return where + ": unknown setting";
	}
	return where + ": unknown setting";
}

// Reads the values of one group; every method returns false and leaves a
// message in problem on the first bad value.
class Reader {
public:
	explicit Reader(const Group &g) : g_(g) {}

	std::string problem;

	std::string where(const std::string &key) const { return "groups." + g_.name + "." + key; }

	const std::string *find(const std::string &key) const
	{
		auto it = g_.values.find(key);
		return it == g_.values.end() ? nullptr : it->second;
	}

	// The value as written, or the default's text.
	std::string text(const std::string &key, const char *fallback) const
	{
		const std::string *v = find(key);
		return v ? std::string(trim(*v)) : fallback;
	}

	bool fail(const std::string &key, const std::string &message)
	{
		problem = where(key) + ": " + message;
		return false;
	}

	const std::string *required(const std::string &key)
	{
		const std::string *v = find(key);
		if (!v)
			fail(key, "missing");
		return v;
	}

	bool identity(const std::string &key, Identity &out)
	{
		const std::string *v = required(key);
		if (!v)
			return false;
		auto id = identity_setting(*v);
		if (!id.ok())
			return fail(key, id.error().message);
		out = id.value();
		return true;
	}

	bool group_id(const std::string &key, Identity &out)
	{
		const std::string *v = required(key);
		if (!v)
			return false;
		auto id = parse_group_id(*v);
		if (!id.ok())
			return fail(key, id.error().message);
		out = id.value();
		return true;
	}

	bool identity_list(const std::string &key, std::vector<Identity> &out)
	{
		const std::string *v = required(key);
		if (!v)
			return false;
		if (trim(*v).empty())
			return fail(key, "empty list");
		std::set<std::pair<uint8_t, Bytes>> seen;
		for (std::string_view item : split_list(*v)) {
			if (item.empty())
				return fail(key, quote(*v) + " has an empty list element");
			auto id = identity_setting(std::string(item));
			if (!id.ok())
				return fail(key, id.error().message);
			if (!seen.insert({id.value().type, id.value().data}).second)
				return fail(key, quote(item) + " is listed twice");
			out.push_back(id.value());
		}
		return true;
	}

	// A unicast address, port 848.
	bool unicast(const std::string &key, std::string_view text, Address &out)
	{
		auto ip = parse_ip(trim(text));
		if (!ip)
			return fail(key, quote(text) + " is not an IP address");
		if (is_multicast(*ip) || is_unspecified(*ip))
			return fail(key, quote(text) + " is not a unicast address");
		out.ip = *ip;
		out.port = kGikev2Port;
		return true;
	}

	bool address(const std::string &key, Address &out)
	{
		const std::string *v = required(key);
		if (!v)
			return false;
		if (v->find(',') != std::string::npos)
			return fail(key, quote(*v) + " is more than one address");
		return unicast(key, *v, out);
	}

	bool address_list(const std::string &key, std::vector<Address> &out)
	{
		const std::string *v = required(key);
		if (!v)
			return false;
		if (trim(*v).empty())
			return fail(key, "empty list");
		for (std::string_view item : split_list(*v)) {
			if (item.empty())
				return fail(key, quote(*v) + " has an empty list element");
			Address a;
			if (!unicast(key, item, a))
				return false;
			for (const auto &b : out) {
				if (b.ip == a.ip)
					return fail(key, quote(item) + " is listed twice");
			}
			out.push_back(a);
		}
		return true;
	}

	bool multicast(const std::string &key, std::optional<Address> &out)
	{
		const std::string *v = find(key);
		if (!v)
			return true;
		auto ip = parse_ip(trim(*v));
		if (!ip)
			return fail(key, quote(*v) + " is not an IP address");
		if (!is_multicast(*ip))
			return fail(key, quote(*v) + " is not a multicast address");
		out = Address{*ip, kGikev2Port};
		return true;
	}

	bool auth(const std::string &key, AuthKind &out)
	{
		const std::string *v = find(key);
		if (!v)
			return true;
		std::string_view t = trim(*v);
		if (t == "psk")
			out = AuthKind::Psk;
		else if (t == "pubkey")
			out = AuthKind::PublicKey;
		else
			return fail(key, quote(*v) + " is not psk or pubkey");
		return true;
	}

	bool rekey_auth(const std::string &key, RekeyAuth &out)
	{
		const std::string *v = find(key);
		if (!v)
			return true;
		std::string_view t = trim(*v);
		if (t == "signature")
			out = RekeyAuth::Signature;
		else if (t == "implicit")
			out = RekeyAuth::Implicit;
		else
			return fail(key, quote(*v) + " is not signature or implicit");
		return true;
	}

	bool duration(const std::string &key, uint32_t &out)
	{
		const std::string *v = find(key);
		if (!v)
			return true;
		auto d = parse_duration(*v);
		if (!d.ok())
			return fail(key, d.error().message);
		out = d.value();
		return true;
	}

	bool delay(const std::string &key, uint16_t &out)
	{
		uint32_t d = out;
		if (!duration(key, d))
			return false;
		if (d > 0xffff)
			return fail(key, quote(*find(key)) + " is above 65535 seconds");
		out = static_cast<uint16_t>(d);
		return true;
	}

	bool number(const std::string &key, uint16_t lo, uint16_t hi, uint16_t &out)
	{
		const std::string *v = find(key);
		if (!v)
			return true;
		auto n = decimal(trim(*v), hi);
		if (!n || *n < lo)
			return fail(key, quote(*v) + " is not a number from " + std::to_string(lo) + " to " + std::to_string(hi));
		out = static_cast<uint16_t>(*n);
		return true;
	}

	bool traffic_selector(const std::string &key, TrafficSelector &out)
	{
		const std::string *v = required(key);
		if (!v)
			return false;
		auto ts = parse_traffic_selector(*v);
		if (!ts.ok())
			return fail(key, ts.error().message);
		out = ts.value();
		return true;
	}

	bool traffic_selector_list(const std::string &key, std::vector<TrafficSelector> &out)
	{
		const std::string *v = required(key);
		if (!v)
			return false;
		if (trim(*v).empty())
			return fail(key, "empty list");
		for (std::string_view item : split_list(*v)) {
			if (item.empty())
				return fail(key, quote(*v) + " has an empty list element");
			auto ts = parse_traffic_selector(std::string(item));
			if (!ts.ok())
				return fail(key, ts.error().message);
			if (std::find(out.begin(), out.end(), ts.value()) != out.end())
				return fail(key, quote(item) + " is listed twice");
			out.push_back(ts.value());
		}
		return true;
	}

	bool proposal(const std::string &key, TekPolicyConfig &tek)
	{
		const std::string *v = find(key);
		if (!v)
			return true;
		auto p = parse_esp_proposal(*v);
		if (!p.ok())
			return fail(key, p.error().message);
		tek.encryption = p.value().encryption;
		tek.key_bits = p.value().key_bits;
		tek.integrity = p.value().integrity;
		return true;
	}

private:
	const Group &g_;
};

Problem read_server(const Group &g, GcksGroupConfig &c)
{
	Reader r(g);
	c.name = g.name;
	if (!r.group_id("group_id", c.group_id) || !r.identity("local_id", c.local_id) ||
	    !r.address_list("listen", c.listen) || !r.auth("auth", c.member_auth) ||
	    !r.identity_list("members", c.authorized) || !r.rekey_auth("rekey_auth", c.rekey_auth))
		return r.problem;
	if (g.teks.empty())
		return "groups." + g.name + ": a key server group needs at least one tek-* section";
	for (const auto &name : g.teks) {
		TekPolicyConfig tek;
		if (!r.traffic_selector(name + ".local_ts", tek.source) ||
		    !r.traffic_selector(name + ".remote_ts", tek.destination) ||
		    !r.proposal(name + ".esp_proposal", tek))
			return r.problem;
		if (tek.source.ts_type != tek.destination.ts_type)
			return r.where(name + ".remote_ts") + ": " + quote(*r.find(name + ".remote_ts")) +
			       " is not of the address family of local_ts";
		c.teks.push_back(tek);
	}
	if (!r.duration("tek_lifetime", c.tek_lifetime_s) || !r.duration("kek_lifetime", c.kek_lifetime_s) ||
	    !r.delay("activation_delay", c.activation_delay_s) || !r.delay("deactivation_delay", c.deactivation_delay_s))
		return r.problem;
	if (c.tek_lifetime_s < kMinLifetime)
		return r.where("tek_lifetime") + ": " + quote(r.text("tek_lifetime", "")) + " is shorter than 60s";
	if (c.kek_lifetime_s < kMinLifetime)
		return r.where("kek_lifetime") + ": " + quote(r.text("kek_lifetime", "")) + " is shorter than 60s";
	if (c.activation_delay_s >= c.tek_lifetime_s)
		return r.where("activation_delay") + ": " + quote(r.text("activation_delay", "")) +
		       " is not shorter than tek_lifetime (" + r.text("tek_lifetime", "1h") + ")";
	if (c.deactivation_delay_s >= c.tek_lifetime_s)
		return r.where("deactivation_delay") + ": " + quote(r.text("deactivation_delay", "")) +
		       " is not shorter than tek_lifetime (" + r.text("tek_lifetime", "1h") + ")";

	if (const std::string *v = r.find("rekey")) {
		std::string_view t = trim(*v);
		if (t == "unicast")
			c.rekey = RekeyTransport::Unicast;
		else if (t == "multicast")
			c.rekey = RekeyTransport::Multicast;
		else
			return r.where("rekey") + ": " + quote(*v) + " is not unicast or multicast";
	}
	if (!r.multicast("multicast", c.multicast))
		return r.problem;
	if (c.rekey == RekeyTransport::Multicast) {
		if (!c.multicast)
			return r.where("multicast") + ": missing (rekey = multicast)";
		bool family = std::any_of(c.listen.begin(), c.listen.end(),
					  [&](const Address &a) { return a.ip.size() == c.multicast->ip.size(); });
		if (!family)
			return r.where("multicast") + ": " + quote(*r.find("multicast")) + " is " +
			       family_name(c.multicast->ip) + " but no listen address is";
	} else if (c.multicast) {
		return r.where("multicast") + ": only used with rekey = multicast";
	}

	if (const std::string *v = r.find("key_hierarchy")) {
		std::string_view t = trim(*v);
		if (t == "tree")
			c.hierarchy = KeyHierarchy::Tree;
		else if (t == "flat")
			c.hierarchy = KeyHierarchy::Flat;
		else
			return r.where("key_hierarchy") + ": " + quote(*v) + " is not tree or flat";
	}
	if (!r.number("id_bits", 1, 32, c.id_bits))
		return r.problem;
	if (c.id_bits < 32 && c.authorized.size() > (uint64_t{1} << c.id_bits))
		return r.where("id_bits") + ": " + std::to_string(c.id_bits) + " bits give " +
		       std::to_string(uint64_t{1} << c.id_bits) + " member IDs, fewer than the " +
		       std::to_string(c.authorized.size()) + " members";
	return std::nullopt;
}

Problem read_member(const Group &g, GmGroupConfig &c, std::vector<TunnelEndpoint> &endpoints)
{
	Reader r(g);
	c.name = g.name;
	if (!r.group_id("group_id", c.group_id) || !r.identity("local_id", c.local_id) ||
	    !r.address("local_addrs", c.local) || !r.address_list("servers", c.servers) ||
	    !r.identity("server_id", c.server_id) || !r.auth("auth", c.auth) ||
	    !r.rekey_auth("rekey_auth", c.rekey_auth) ||
	    !r.multicast("multicast", c.multicast) || !r.duration("reregister_margin", c.reregister_margin_s) ||
	    !r.number("sender_ids", 0, 16, c.sender_ids))
		return r.problem;
	auto family = [&](const Address &a) { return a.ip.size() == c.local.ip.size(); };
	for (size_t i = 0; i < c.servers.size(); i++) {
		if (!family(c.servers[i]))
			return r.where("servers") + ": " + quote(split_list(*r.find("servers"))[i]) +
			       " is not of the address family of local_addrs";
	}
	if (c.multicast && !family(*c.multicast))
		return r.where("multicast") + ": " + quote(*r.find("multicast")) +
		       " is not of the address family of local_addrs";

	for (const auto &name : g.endpoints) {
		std::string base = std::string(kEndpoints) + "." + name;
		TunnelEndpoint e;
		if (!r.address(base + ".gateway", e.gateway) || !r.traffic_selector_list(base + ".prefixes", e.prefixes))
			return r.problem;
		if (!family(e.gateway))
			return r.where(base + ".gateway") + ": " + quote(*r.find(base + ".gateway")) +
			       " is not of the address family of local_addrs";
		for (const auto &other : endpoints) {
			if (other.gateway.ip == e.gateway.ip)
				return r.where(base + ".gateway") + ": " + quote(*r.find(base + ".gateway")) +
				       " is the gateway of another endpoint";
		}
		endpoints.push_back(std::move(e));
	}
	return std::nullopt;
}

// Splits the flat settings into groups, checking names, order and
// duplicates.
Problem collect(const std::vector<std::pair<std::string, std::string>> &settings, std::vector<Group> &groups)
{
	std::map<std::string, size_t> index;
	std::set<std::string> keys;
	for (const auto &[key, value] : settings) {
		std::vector<std::string> path;
		size_t start = 0;
		for (;;) {
			size_t dot = key.find('.', start);
			path.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
			if (dot == std::string::npos)
				break;
			start = dot + 1;
		}
		if (!std::all_of(path.begin(), path.end(), [](const std::string &p) { return valid_name(p); }))
			return "groups." + quote(key) + ": names in a key path hold letters, digits, '-' and '_' only";
		const std::string &name = path[0];
		if (!keys.insert(key).second)
			return "groups." + key + ": set twice";
		if (has_control(value))
			return "groups." + key + ": " + quote(value) + " contains a control character";
		auto it = index.find(name);
		if (it == index.end()) {
			it = index.emplace(name, groups.size()).first;
			groups.push_back(Group{name, {}, {}, {}, {}});
		} else if (it->second + 1 != groups.size()) {
			return "groups." + name + ": group defined twice";
		}
		Group &g = groups[it->second];
		Setting s;
		s.path.assign(path.begin() + 1, path.end());
		s.key = key.size() > name.size() ? key.substr(name.size() + 1) : std::string();
		s.value = &value;
		g.settings.push_back(std::move(s));
	}
	return std::nullopt;
}

Problem check_group(Group &g, bool &server)
{
	std::vector<Scope> scopes;
	for (const auto &s : g.settings) {
		Scope scope = Scope::Both;
		if (auto p = check_layout(g, s, scope))
			return p;
		scopes.push_back(scope);
	}
	const std::string *role = nullptr;
	for (const auto &s : g.settings) {
		if (s.key == "role")
			role = s.value;
	}
	std::string where = "groups." + g.name;
	if (!role)
		return where + ".role: missing (server or member)";
	std::string_view r = trim(*role);
	if (r != "server" && r != "member")
		return where + ".role: " + quote(*role) + " is not server or member";
	server = r == "server";
	for (size_t i = 0; i < g.settings.size(); i++) {
		const Setting &s = g.settings[i];
		if (server && scopes[i] == Scope::Member)
			return where + "." + s.key + ": a member setting in a key server group";
		if (!server && scopes[i] == Scope::Server)
			return where + "." + s.key + ": a key server setting in a member group";
		g.values[s.key] = s.value;
		auto add_section = [](std::vector<std::string> &list, const std::string &name) {
			if (std::find(list.begin(), list.end(), name) == list.end())
				list.push_back(name);
		};
		if (s.path.size() > 1 && is_tek_section(s.path[0]))
			add_section(g.teks, s.path[0]);
		else if (s.path.size() > 1 && s.path[0] == kEndpoints)
			add_section(g.endpoints, s.path[1]);
	}
	return std::nullopt;
}

// Two groups of one role with the same IDg could not tell their messages
// apart.
template <typename Config>
Problem unique_group_ids(const std::vector<Config> &configs, const std::map<std::string, const Group *> &groups)
{
	for (size_t i = 0; i < configs.size(); i++) {
		for (size_t j = 0; j < i; j++) {
			if (configs[i].group_id.type == configs[j].group_id.type &&
			    configs[i].group_id.data == configs[j].group_id.data)
				return "groups." + configs[i].name + ".group_id: " +
				       quote(*groups.at(configs[i].name)->values.at("group_id")) +
				       " is already the group ID of groups." + configs[j].name;
		}
	}
	return std::nullopt;
}

} // namespace

Result<GdoiConfig> parse_config(const std::vector<std::pair<std::string, std::string>> &settings)
{
	std::vector<Group> groups;
	if (auto p = collect(settings, groups))
		return bad(*p);
	GdoiConfig config;
	std::map<std::string, const Group *> by_name;
	for (auto &g : groups) {
		by_name[g.name] = &g;
		bool server = false;
		if (auto p = check_group(g, server))
			return bad(*p);
		if (server) {
			GcksGroupConfig c;
			if (auto p = read_server(g, c))
				return bad(*p);
			config.servers.push_back(std::move(c));
		} else {
			GmGroupConfig c;
			std::vector<TunnelEndpoint> endpoints;
			if (auto p = read_member(g, c, endpoints))
				return bad(*p);
			config.members.push_back(std::move(c));
			if (!endpoints.empty())
				config.endpoints[g.name] = std::move(endpoints);
		}
	}
	if (auto p = unique_group_ids(config.servers, by_name))
		return bad(*p);
	if (auto p = unique_group_ids(config.members, by_name))
		return bad(*p);
	return config;
}

} // namespace groupsec::gdoi
