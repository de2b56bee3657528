#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
#
# A small, strict IPFIX collecting process (RFC 7011) for the end-to-end
# tests.  It checks what a real collector would silently tolerate (sequence
# numbers per transport session and observation domain, padding, set
# lengths, export time) and writes what it received as one JSON summary.
#
#   ipfix_collector.py [--udp PORT] [--tcp PORT] [--bind ADDR]
#                      --out FILE.json [--records FILE.jsonl]
#                      [--ready-file PATH] [--duration SECONDS]
#                      [--accept-first-seq]
#
# Runs until SIGTERM/SIGINT or --duration (default 600 s), drains what the
# kernel still holds, writes --out atomically (tmp + rename) and exits 0.
# SIGUSR1 writes a snapshot of the summary without stopping.  PORT 0 binds
# an ephemeral port; the ready file (written once the sockets are bound)
# holds {"pid", "udp", "tcp", "bind"} with the real ports.
#
# Standard library only: the tests run it with Debian's /usr/bin/python3.
import argparse
import ipaddress
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time
import traceback
from operator import itemgetter

MSG_HDR = struct.Struct("!HHIII")  # version, length, export time, seq, domain
SET_HDR = struct.Struct("!HH")     # set id, length
U16 = struct.Struct("!H")
U32 = struct.Struct("!I")
U16X2 = struct.Struct("!HH")

IPFIX_VERSION = 10
SET_TEMPLATE = 2
SET_OPTIONS_TEMPLATE = 3
SET_DATA_MIN = 256
VARLEN = 65535
SEQ_MASK = 0xffffffff
NTP_UNIX_OFFSET = 2208988800       # seconds from 1900-01-01 to 1970-01-01
MAX_DETAILS = 20
DEFAULT_DURATION = 600.0
DRAIN_SECONDS = 10.0        # bound on reading what was queued at stop

# Abstract data types (RFC 7012 3.1) as far as decoding needs them: the
# IEs below use no signed or float types.
U, IP4, IP6, MAC, STR, OCT, NTP_US, NTP_NS = range(8)

# IANA "IPFIX Information Elements" registry: id -> (name, data type).
# dateTimeSeconds/Milliseconds are plain unsigned integers on the wire
# (unix epoch); dateTimeMicro/Nanoseconds are the 64-bit NTP format.
IANA = {
    1: ("octetDeltaCount", U), 2: ("packetDeltaCount", U),
    3: ("deltaFlowCount", U), 4: ("protocolIdentifier", U),
    5: ("ipClassOfService", U), 6: ("tcpControlBits", U),
    7: ("sourceTransportPort", U), 8: ("sourceIPv4Address", IP4),
    9: ("sourceIPv4PrefixLength", U), 10: ("ingressInterface", U),
    11: ("destinationTransportPort", U),
    12: ("destinationIPv4Address", IP4),
    13: ("destinationIPv4PrefixLength", U), 14: ("egressInterface", U),
    15: ("ipNextHopIPv4Address", IP4), 16: ("bgpSourceAsNumber", U),
    17: ("bgpDestinationAsNumber", U),
    18: ("bgpNextHopIPv4Address", IP4),
    19: ("postMCastPacketDeltaCount", U),
    20: ("postMCastOctetDeltaCount", U), 21: ("flowEndSysUpTime", U),
    22: ("flowStartSysUpTime", U), 23: ("postOctetDeltaCount", U),
    24: ("postPacketDeltaCount", U), 25: ("minimumIpTotalLength", U),
    26: ("maximumIpTotalLength", U), 27: ("sourceIPv6Address", IP6),
    28: ("destinationIPv6Address", IP6),
    29: ("sourceIPv6PrefixLength", U),
    30: ("destinationIPv6PrefixLength", U), 31: ("flowLabelIPv6", U),
    32: ("icmpTypeCodeIPv4", U), 33: ("igmpType", U),
    36: ("flowActiveTimeout", U), 37: ("flowIdleTimeout", U),
    40: ("exportedOctetTotalCount", U),
    41: ("exportedMessageTotalCount", U),
    42: ("exportedFlowRecordTotalCount", U),
    44: ("sourceIPv4Prefix", IP4), 45: ("destinationIPv4Prefix", IP4),
    46: ("mplsTopLabelType", U), 47: ("mplsTopLabelIPv4Address", IP4),
    52: ("minimumTTL", U), 53: ("maximumTTL", U),
    54: ("fragmentIdentification", U), 55: ("postIpClassOfService", U),
    56: ("sourceMacAddress", MAC), 57: ("postDestinationMacAddress", MAC),
    58: ("vlanId", U), 59: ("postVlanId", U), 60: ("ipVersion", U),
    61: ("flowDirection", U), 62: ("ipNextHopIPv6Address", IP6),
    63: ("bgpNextHopIPv6Address", IP6), 64: ("ipv6ExtensionHeaders", U),
    70: ("mplsTopLabelStackSection", OCT),
    80: ("destinationMacAddress", MAC), 81: ("postSourceMacAddress", MAC),
    82: ("interfaceName", STR), 83: ("interfaceDescription", STR),
    85: ("octetTotalCount", U), 86: ("packetTotalCount", U),
    88: ("fragmentOffset", U), 89: ("forwardingStatus", U),
    95: ("applicationId", OCT), 96: ("applicationName", STR),
    130: ("exporterIPv4Address", IP4), 131: ("exporterIPv6Address", IP6),
    132: ("droppedOctetDeltaCount", U),
    133: ("droppedPacketDeltaCount", U),
    134: ("droppedOctetTotalCount", U),
    135: ("droppedPacketTotalCount", U), 136: ("flowEndReason", U),
    137: ("commonPropertiesId", U), 138: ("observationPointId", U),
    139: ("icmpTypeCodeIPv6", U), 140: ("mplsTopLabelIPv6Address", IP6),
    141: ("lineCardId", U), 142: ("portId", U),
    143: ("meteringProcessId", U), 144: ("exportingProcessId", U),
    145: ("templateId", U), 148: ("flowId", U),
    149: ("observationDomainId", U), 150: ("flowStartSeconds", U),
    151: ("flowEndSeconds", U), 152: ("flowStartMilliseconds", U),
    153: ("flowEndMilliseconds", U),
    154: ("flowStartMicroseconds", NTP_US),
    155: ("flowEndMicroseconds", NTP_US),
    156: ("flowStartNanoseconds", NTP_NS),
    157: ("flowEndNanoseconds", NTP_NS),
    158: ("flowStartDeltaMicroseconds", U),
    159: ("flowEndDeltaMicroseconds", U),
    160: ("systemInitTimeMilliseconds", U),
    161: ("flowDurationMilliseconds", U),
    162: ("flowDurationMicroseconds", U),
    163: ("observedFlowTotalCount", U),
    164: ("ignoredPacketTotalCount", U),
    165: ("ignoredOctetTotalCount", U),
    166: ("notSentFlowTotalCount", U),
    167: ("notSentPacketTotalCount", U),
    168: ("notSentOctetTotalCount", U),
    176: ("icmpTypeIPv4", U), 177: ("icmpCodeIPv4", U),
    178: ("icmpTypeIPv6", U), 179: ("icmpCodeIPv6", U),
    180: ("udpSourcePort", U), 181: ("udpDestinationPort", U),
    182: ("tcpSourcePort", U), 183: ("tcpDestinationPort", U),
    184: ("tcpSequenceNumber", U), 185: ("tcpAcknowledgementNumber", U),
    186: ("tcpWindowSize", U), 187: ("tcpUrgentPointer", U),
    188: ("tcpHeaderLength", U), 189: ("ipHeaderLength", U),
    190: ("totalLengthIPv4", U), 191: ("payloadLengthIPv6", U),
    192: ("ipTTL", U), 193: ("nextHeaderIPv6", U),
    194: ("mplsPayloadLength", U), 195: ("ipDiffServCodePoint", U),
    196: ("ipPrecedence", U), 197: ("fragmentFlags", U),
    205: ("udpMessageLength", U), 206: ("isMulticast", U),
    207: ("ipv4IHL", U), 208: ("ipv4Options", U), 209: ("tcpOptions", U),
    210: ("paddingOctets", OCT), 211: ("collectorIPv4Address", IP4),
    212: ("collectorIPv6Address", IP6), 213: ("exportInterface", U),
    214: ("exportProtocolVersion", U),
    215: ("exportTransportProtocol", U),
    216: ("collectorTransportPort", U), 217: ("exporterTransportPort", U),
    218: ("tcpSynTotalCount", U), 219: ("tcpFinTotalCount", U),
    220: ("tcpRstTotalCount", U), 221: ("tcpPshTotalCount", U),
    222: ("tcpAckTotalCount", U), 223: ("tcpUrgTotalCount", U),
    224: ("ipTotalLength", U), 225: ("postNATSourceIPv4Address", IP4),
    226: ("postNATDestinationIPv4Address", IP4),
    227: ("postNAPTSourceTransportPort", U),
    228: ("postNAPTDestinationTransportPort", U),
    233: ("firewallEvent", U), 234: ("ingressVRFID", U),
    235: ("egressVRFID", U), 239: ("biflowDirection", U),
    243: ("dot1qVlanId", U), 244: ("dot1qPriority", U),
    245: ("dot1qCustomerVlanId", U),
    252: ("ingressPhysicalInterface", U),
    253: ("egressPhysicalInterface", U), 256: ("ethernetType", U),
    322: ("observationTimeSeconds", U),
    323: ("observationTimeMilliseconds", U),
    324: ("observationTimeMicroseconds", NTP_US),
    325: ("observationTimeNanoseconds", NTP_NS),
    346: ("privateEnterpriseNumber", U),
}

# The by_flow key, in this order; each slot takes the first IANA field of
# the record that can fill it.
KEY_SLOTS = ("proto", "src", "sport", "dst", "dport", "iif", "oif", "dir")
SLOT_OF_IE = {
    4: "proto", 8: "src", 27: "src", 7: "sport", 12: "dst", 28: "dst",
    11: "dport", 10: "iif", 14: "oif", 61: "dir", 136: "reason",
}
AGG_SLOTS = KEY_SLOTS + ("reason",)
IE_PACKETS = 2
IE_OCTETS = 1

_addr_cache = {}


def addr_text(b):
    """4 or 16 address bytes as text; cached: flows repeat addresses."""
    t = _addr_cache.get(b)
    if t is None:
        if len(_addr_cache) > 65536:
            _addr_cache.clear()
        t = str(ipaddress.ip_address(bytes(b)))
        _addr_cache[b] = t
    return t


def ntp_to_unix_ns(v):
    """64-bit NTP timestamp (RFC 7011 6.1.10) -> unix nanoseconds."""
    if v == 0:
        return 0
    frac = v & 0xffffffff
    return ((v >> 32) - NTP_UNIX_OFFSET) * 1000000000 + \
        ((frac * 1000000000 + (1 << 31)) >> 32)


def ntp_to_unix_us(v):
    """dateTimeMicroseconds: the low 11 fraction bits are ignored (6.1.9)."""
    if v == 0:
        return 0
    frac = v & 0xfffff800
    return ((v >> 32) - NTP_UNIX_OFFSET) * 1000000 + \
        ((frac * 1000000 + (1 << 31)) >> 32)


def mac_text(b):
    return ":".join("%02x" % x for x in b)


def hex_text(b):
    return bytes(b).hex()


def utf8_text(b):
    return bytes(b).decode("utf-8", "replace")


def uint_be(b):
    return int.from_bytes(b, "big")


def decode_value(kind, b):
    """One field value (bytes of any length) -> its JSON form.

    The reference decoder: the fixed-length fast path below must give the
    same results (reduced-size integers, RFC 7011 6.2, included)."""
    n = len(b)
    if kind == U:
        return int.from_bytes(b, "big") if 1 <= n <= 8 else hex_text(b)
    if kind == IP4 and n == 4 or kind == IP6 and n == 16:
        return addr_text(bytes(b))
    if kind == MAC and n == 6:
        return mac_text(b)
    if kind == NTP_NS and n == 8:
        return ntp_to_unix_ns(int.from_bytes(b, "big"))
    if kind == NTP_US and n == 8:
        return ntp_to_unix_us(int.from_bytes(b, "big"))
    if kind == STR:
        return utf8_text(b)
    return hex_text(b)


def fixed_spec(kind, n):
    """(struct code, fix, conv) for a fixed-length field.

    fix turns the unpacked value into the raw value used for aggregation
    (reduced-size integers of 3, 5, 6, 7 octets); conv turns the raw value
    into its JSON form.  Either may be None."""
    if kind == U and n in (1, 2, 4, 8):
        return {1: "B", 2: "H", 4: "I", 8: "Q"}[n], None, None
    if kind == U and 1 <= n <= 8:
        return "%ds" % n, uint_be, None
    if (kind == IP4 and n == 4) or (kind == IP6 and n == 16):
        return "%ds" % n, None, addr_text
    if kind == MAC and n == 6:
        return "6s", None, mac_text
    if kind == NTP_NS and n == 8:
        return "Q", None, ntp_to_unix_ns
    if kind == NTP_US and n == 8:
        return "Q", None, ntp_to_unix_us
    if kind == STR:
        return "%ds" % n, None, utf8_text
    return "%ds" % n, None, hex_text


def tuple_getter(positions):
    """Like itemgetter, but always returns a tuple (also for 0 or 1 item)."""
    if not positions:
        return lambda r: ()
    if len(positions) == 1:
        p = positions[0]
        return lambda r: (r[p],)
    return itemgetter(*positions)


class Template:
    """A (options) template with its decoder compiled once.

    Fixed-length templates decode a whole data set with one
    Struct.iter_unpack; templates with variable-length fields fall back to
    a per-field loop."""

    def __init__(self, tid, fields, scope_count):
        self.tid = tid
        self.fields = fields
        self.scope_count = scope_count
        self.is_options = scope_count > 0
        names, kinds, seen = [], [], {}
        for ie, flen, pen in fields:
            if pen:
                base, kind = "e%d.%d" % (pen, ie), OCT
            else:
                base, kind = IANA.get(ie, ("ie%d" % ie, OCT))
            # a template may repeat an IE (RFC 7011 8): keep both
            seen[base] = seen.get(base, 0) + 1
            names.append(base if seen[base] == 1 else
                         "%s#%d" % (base, seen[base]))
            kinds.append(kind)
        self.names = names
        self.kinds = kinds
        self.variable = any(f[1] == VARLEN for f in fields)
        self.min_len = sum(1 if f[1] == VARLEN else f[1] for f in fields)
        self.scope_names = names[:scope_count]
        self.fixes = []
        self.convs = []
        if not self.variable:
            fmt = "!"
            for i, (kind, (ie, flen, pen)) in enumerate(
                    zip(kinds, fields)):
                code, fix, conv = fixed_spec(kind, flen)
                fmt += code
                if fix:
                    self.fixes.append((i, fix))
                self.convs.append(conv)
            self.struct = struct.Struct(fmt)
            self.size = self.struct.size
            self._compile_json_line()
        self._compile_aggregation()

    def _compile_json_line(self):
        """A %-format for one record as a JSON object, so the --records
        file costs one format per record instead of a dict and a
        json.dumps: field values that are ints or need no escaping go in
        as they are."""
        parts = []
        self.line_convs = []
        for i, (name, conv) in enumerate(zip(self.names, self.convs)):
            key = json.dumps(name).replace("%", "%%")
            if conv is None or conv in (ntp_to_unix_ns, ntp_to_unix_us):
                parts.append(key + ": %d")
                if conv:
                    self.line_convs.append((i, conv))
            elif conv in (addr_text, mac_text, hex_text):
                parts.append(key + ': "%s"')
                self.line_convs.append((i, conv))
            else:
                parts.append(key + ": %s")
                self.line_convs.append(
                    (i, lambda v, c=conv: json.dumps(c(v))))
        self.line_fmt = "{" + ", ".join(parts)

    def json_lines(self, rows, meta):
        """Fixed-length rows as JSON lines; meta is the JSON text of the
        extra keys, without braces."""
        fmt = self.line_fmt + (", " if self.names else "") + \
            meta.replace("%", "%%") + "}\n"
        convs = self.line_convs
        if not convs:
            return "".join([fmt % tuple(r) for r in rows])
        out = []
        for r in rows:
            r = list(r)
            for i, conv in convs:
                r[i] = conv(r[i])
            out.append(fmt % tuple(r))
        return "".join(out)

    def _compile_aggregation(self):
        slot_pos = {}
        self.pkt_idx = self.oct_idx = None
        for i, (ie, flen, pen) in enumerate(self.fields):
            kind = self.kinds[i]
            # only lengths that decode to an int or an address
            if pen or not (flen == VARLEN or
                           kind == U and 1 <= flen <= 8 or
                           kind == IP4 and flen == 4 or
                           kind == IP6 and flen == 16):
                continue
            slot = SLOT_OF_IE.get(ie)
            if slot and slot not in slot_pos:
                slot_pos[slot] = i
            if ie == IE_PACKETS and self.pkt_idx is None:
                self.pkt_idx = i
            if ie == IE_OCTETS and self.oct_idx is None:
                self.oct_idx = i
        self.sig = tuple(s for s in AGG_SLOTS if s in slot_pos)
        self.keyf = tuple_getter([slot_pos[s] for s in self.sig])

    def same_as(self, other):
        return self.fields == other.fields and \
            self.scope_count == other.scope_count

    def apply_fixes(self, row):
        row = list(row)
        for i, fix in self.fixes:
            row[i] = fix(row[i])
        return row

    def decode_variable(self, mv, off, end):
        """One record of a template with variable-length fields (RFC
        7011 7): returns (row of JSON values, new offset) or (None, off)
        when a field runs past the set."""
        row = []
        for kind, (ie, flen, pen) in zip(self.kinds, self.fields):
            if flen == VARLEN:
                if off >= end:
                    return None, off
                flen = mv[off]
                off += 1
                if flen == 255:
                    if off + 2 > end:
                        return None, off
                    flen = U16.unpack_from(mv, off)[0]
                    off += 2
            if off + flen > end:
                return None, off
            row.append(decode_value(kind, bytes(mv[off:off + flen])))
            off += flen
        return row, off

    def row_dict(self, row):
        """A decoded row as a name -> JSON value dict."""
        if self.variable:
            return dict(zip(self.names, row))
        d = {}
        for name, conv, v in zip(self.names, self.convs, row):
            d[name] = v if conv is None else conv(v)
        return d


class DomainState:
    """Per (transport session, observation domain): RFC 7011 keeps the
    templates and the sequence counter at this scope."""

    def __init__(self, next_seq):
        self.next_seq = next_seq  # None: take the next one as it comes
        self.templates = {}
        self.messages = 0
        self.records = 0


class Session:
    def __init__(self, name, transport):
        self.name = name
        self.transport = transport
        self.domains = {}
        self.last_export = None
        self.messages = 0
        self.data_records = 0
        self.options_records = 0
        self.sequence_errors = 0
        self.malformed = 0


class Collector:
    def __init__(self, records_file=None, accept_first_seq=False):
        self.records_file = records_file
        self.accept_first_seq = accept_first_seq
        self.sessions = {}
        self.messages = 0
        self.data_records = 0
        self.options_records = 0
        self.template_records = 0
        self.options_template_records = 0
        self.template_withdrawals = 0
        self.template_conflicts = 0
        self.sequence_errors = 0
        self.sequence_error_details = []
        self.malformed = 0
        self.malformed_details = []
        self.unknown_template_sets = 0
        self.empty_sets = 0
        self.export_time_backwards = 0
        self.domains = {}          # domain -> [messages, data, options]
        self.templates_seen = {}   # "dom/tid" -> [[ie, len, pen], ...]
        self.options_scopes = {}   # "dom/tid" -> scope field count
        self.options_last = {}     # (dom, tid) -> decoded dict
        self.agg = {}              # (sig, dom) -> {key tuple: [n, p, o]}
        self._template_cache = {}
        self.udp_drops = None
        self.collector_errors = 0

    # --- bookkeeping -------------------------------------------------
    def session(self, name, transport):
        s = self.sessions.get(name)
        if s is None:
            s = self.sessions[name] = Session(name, transport)
        return s

    def bad(self, sess, dom, reason):
        self.malformed += 1
        sess.malformed += 1
        if len(self.malformed_details) < MAX_DETAILS:
            self.malformed_details.append({
                "session": sess.name, "domain": dom,
                "message": sess.messages, "reason": reason})

    def _template(self, tid, fields, scope_count):
        key = (tid, fields, scope_count)
        t = self._template_cache.get(key)
        if t is None:
            t = self._template_cache[key] = \
                Template(tid, fields, scope_count)
        return t

    # --- messages ----------------------------------------------------
    def message(self, sess, data):
        """One whole IPFIX message: a UDP datagram or a TCP frame.

        A bug of this collector must not cost the run its summary: it is
        counted (collector_errors, which the tests check is 0), its
        traceback printed, and the next message is parsed."""
        try:
            self._message(sess, data)
        except Exception:
            self.collector_errors += 1
            traceback.print_exc(file=sys.stderr)

    def _message(self, sess, data):
        n = len(data)
        if n < MSG_HDR.size:
            self.bad(sess, None, "message of %d bytes, shorter than "
                     "the 16-byte header" % n)
            return
        ver, length, etime, seq, dom = MSG_HDR.unpack_from(data, 0)
        if ver != IPFIX_VERSION:
            self.bad(sess, dom, "version %d, not 10" % ver)
            return
        if length != n:
            self.bad(sess, dom, "header length %d but %d bytes "
                     "received" % (length, n))
            return
        self.messages += 1
        sess.messages += 1
        dstats = self.domains.setdefault(dom, [0, 0, 0])
        dstats[0] += 1
        if sess.last_export is not None and etime < sess.last_export:
            self.export_time_backwards += 1
        sess.last_export = etime
        ds = sess.domains.get(dom)
        if ds is None:
            first = None if (self.accept_first_seq and
                             sess.transport == "udp") else 0
            ds = sess.domains[dom] = DomainState(first)
        ds.messages += 1
        nrec, unknown = self.sets(sess, ds, dom, memoryview(data), n)
        if ds.next_seq is not None and seq != ds.next_seq:
            self.sequence_errors += 1
            sess.sequence_errors += 1
            if len(self.sequence_error_details) < MAX_DETAILS:
                self.sequence_error_details.append({
                    "session": sess.name, "domain": dom,
                    "expected": ds.next_seq, "got": seq,
                    "message": sess.messages})
        ds.records += nrec
        # Resynchronise on the header: one lost message is one error,
        # not one per message after it.  Records of an unknown template
        # cannot be counted, so the next message sets the counter.
        ds.next_seq = None if unknown else (seq + nrec) & SEQ_MASK

    def sets(self, sess, ds, dom, mv, end):
        off = MSG_HDR.size
        nrec = 0
        unknown = False
        while off < end:
            if end - off < SET_HDR.size:
                self.bad(sess, dom, "%d trailing bytes after the "
                         "last set" % (end - off))
                break
            sid, slen = SET_HDR.unpack_from(mv, off)
            if slen < SET_HDR.size:
                self.bad(sess, dom, "set %d with length %d" %
                         (sid, slen))
                break
            if off + slen > end:
                self.bad(sess, dom, "set %d of length %d overruns "
                         "the message by %d bytes" %
                         (sid, slen, off + slen - end))
                break
            body, set_end = off + SET_HDR.size, off + slen
            off = set_end
            if slen == SET_HDR.size:
                self.empty_sets += 1
            elif sid == SET_TEMPLATE or sid == SET_OPTIONS_TEMPLATE:
                self.template_set(sess, ds, dom, mv, body, set_end,
                                  sid == SET_OPTIONS_TEMPLATE)
            elif sid >= SET_DATA_MIN:
                t = ds.templates.get(sid)
                if t is None:
                    self.unknown_template_sets += 1
                    unknown = True
                    continue
                nrec += self.data_set(sess, dom, t, mv, body,
                                      set_end)
            else:
                self.bad(sess, dom, "reserved set id %d" % sid)
        return nrec, unknown

    def padding(self, sess, dom, mv, off, end):
        if any(mv[off:end]):
            self.bad(sess, dom, "non-zero padding (%d bytes)" %
                     (end - off))

    def template_set(self, sess, ds, dom, mv, off, end, options):
        records = 0
        while off < end:
            rem = end - off
            if rem < 4 or not any(mv[off:end]):
                # padding (RFC 7011 3.3.1: accepted in template
                # sets too); a real record is never all zero
                self.padding(sess, dom, mv, off, end)
                break
            tid, count = U16X2.unpack_from(mv, off)
            off += 4
            if count == 0:
                records += 1
                self.withdraw(sess, ds, dom, tid, options)
                continue
            scope = 0
            if options:
                if off + 2 > end:
                    self.bad(sess, dom, "options template %d "
                             "overruns its set" % tid)
                    return
                scope = U16.unpack_from(mv, off)[0]
                off += 2
            fields = []
            for _ in range(count):
                if off + 4 > end:
                    break
                ie, flen = U16X2.unpack_from(mv, off)
                off += 4
                pen = 0
                if ie & 0x8000:
                    if off + 4 > end:
                        break
                    pen = U32.unpack_from(mv, off)[0]
                    off += 4
                    ie &= 0x7fff
                fields.append((ie, flen, pen))
            if len(fields) < count:
                self.bad(sess, dom, "template %d overruns its set"
                         % tid)
                return
            records += 1
            if tid < SET_DATA_MIN:
                self.bad(sess, dom, "template id %d < 256" % tid)
                continue
            if options and scope > count:
                self.bad(sess, dom, "options template %d: scope "
                         "count %d > field count %d" %
                         (tid, scope, count))
                continue
            if options and scope == 0:
                self.bad(sess, dom, "options template %d: scope "
                         "field count 0" % tid)
                continue
            t = self._template(tid, tuple(fields), scope)
            if t.min_len == 0:
                self.bad(sess, dom, "template %d has zero-length "
                         "records" % tid)
                continue
            old = ds.templates.get(tid)
            # TCP: a template id is not redefined without a
            # withdrawal (RFC 7011 8); UDP may replace it.
            if old is not None and not old.same_as(t) and \
                    sess.transport == "tcp":
                self.template_conflicts += 1
            ds.templates[tid] = t
            key = "%d/%d" % (dom, tid)
            self.templates_seen[key] = [list(f) for f in fields]
            if options:
                self.options_template_records += 1
                self.options_scopes[key] = scope
            else:
                self.template_records += 1
        if records == 0:
            self.empty_sets += 1

    def withdraw(self, sess, ds, dom, tid, options):
        self.template_withdrawals += 1
        if sess.transport == "udp":
            # RFC 7011 8.4: never sent over UDP
            self.bad(sess, dom, "template withdrawal %d over UDP" % tid)
            return
        want = SET_OPTIONS_TEMPLATE if options else SET_TEMPLATE
        if tid == want:
            for k in [k for k, t in ds.templates.items()
                      if t.is_options == options]:
                del ds.templates[k]
        elif ds.templates.pop(tid, None) is None:
            self.bad(sess, dom, "withdrawal of unknown template %d" %
                     tid)

    def data_set(self, sess, dom, t, mv, off, end):
        if t.variable:
            rows = []
            while end - off >= t.min_len:
                row, off = t.decode_variable(mv, off, end)
                if row is None:
                    self.bad(sess, dom, "record of template %d "
                             "overruns its set" % t.tid)
                    off = end
                    break
                rows.append(row)
            if off < end:
                self.padding(sess, dom, mv, off, end)
            n = len(rows)
        else:
            n, pad = divmod(end - off, t.size)
            if pad:
                self.padding(sess, dom, mv, end - pad, end)
            rows = t.struct.iter_unpack(mv[off:off + n * t.size])
            if t.fixes:
                rows = map(t.apply_fixes, rows)
        if n == 0:
            self.empty_sets += 1
            return 0
        dstats = self.domains[dom]
        if t.is_options:
            self.options_records += n
            sess.options_records += n
            dstats[2] += n
            for row in rows:
                d = t.row_dict(row)
                d["_domain"] = dom
                d["_template"] = t.tid
                d["_session"] = sess.name
                d["_scope"] = t.scope_names
                self.options_last[(dom, t.tid)] = d
                self.write_record(d)
            return n
        self.data_records += n
        sess.data_records += n
        dstats[1] += n
        if self.records_file:
            rows = list(rows)
        self.aggregate(t, dom, rows)
        if not self.records_file:
            return n
        if t.variable:
            for row in rows:
                d = t.row_dict(row)
                d["_domain"] = dom
                d["_template"] = t.tid
                d["_session"] = sess.name
                self.write_record(d)
        else:
            meta = json.dumps({"_domain": dom, "_template": t.tid,
                               "_session": sess.name})[1:-1]
            self.records_file.write(t.json_lines(rows, meta))
        return n

    def aggregate(self, t, dom, rows):
        agg = self.agg.get((t.sig, dom))
        if agg is None:
            agg = self.agg[(t.sig, dom)] = {}
        keyf = t.keyf
        pi, oi = t.pkt_idx, t.oct_idx
        if pi is not None and oi is not None and not t.variable:
            for r in rows:
                k = keyf(r)
                a = agg.get(k)
                if a is None:
                    agg[k] = [1, r[pi], r[oi]]
                else:
                    a[0] += 1
                    a[1] += r[pi]
                    a[2] += r[oi]
            return
        for r in rows:
            p = r[pi] if pi is not None else 0
            o = r[oi] if oi is not None else 0
            # variable-length path: an odd length decodes to hex
            p = p if isinstance(p, int) else 0
            o = o if isinstance(o, int) else 0
            k = keyf(r)
            a = agg.get(k)
            if a is None:
                agg[k] = [1, p, o]
            else:
                a[0] += 1
                a[1] += p
                a[2] += o

    def write_record(self, d):
        if self.records_file:
            self.records_file.write(json.dumps(d) + "\n")

    # --- summary -----------------------------------------------------
    def flow_tables(self):
        """by_flow, by_end_reason and totals from the aggregates.

        Aggregates are keyed by raw values per template signature; keys
        of different templates (or of the fixed and the variable-length
        path) that print the same merge here."""
        by_flow = {}
        reasons = {}
        tot_p = tot_o = 0
        for (sig, dom), agg in self.agg.items():
            # sig follows AGG_SLOTS order: key slots first, reason last
            fmt = "|".join("%s" if s in sig else "" for s in KEY_SLOTS)
            fmt += "|%d" % dom
            nkey = sum(1 for s in sig if s in KEY_SLOTS)
            addrs = [i for i, s in enumerate(sig) if s in ("src", "dst")]
            ri = sig.index("reason") if "reason" in sig else None
            for k, (n, p, o) in agg.items():
                if addrs:
                    k = list(k)
                    for i in addrs:
                        if k[i].__class__ is not str:
                            k[i] = addr_text(k[i])
                key = fmt % tuple(k[:nkey])
                e = by_flow.get(key)
                if e is None:
                    by_flow[key] = {"records": n, "packets": p,
                                    "octets": o}
                else:
                    e["records"] += n
                    e["packets"] += p
                    e["octets"] += o
                r = reasons.setdefault(k[ri] if ri is not None else None,
                                       [0, 0, 0])
                r[0] += n
                r[1] += p
                r[2] += o
                tot_p += p
                tot_o += o
        by_reason = {}
        for r, (n, p, o) in reasons.items():
            name = "none" if r is None else slot_text(r)
            e = by_reason.setdefault(name, {"records": 0, "packets": 0,
                                            "octets": 0})
            e["records"] += n
            e["packets"] += p
            e["octets"] += o
        return by_flow, by_reason, tot_p, tot_o

    def summary(self):
        by_flow, by_reason, tot_p, tot_o = self.flow_tables()
        per_session = {}
        for s in self.sessions.values():
            per_session[s.name] = {
                "transport": s.transport,
                "messages": s.messages,
                "data_records": s.data_records,
                "options_records": s.options_records,
                "sequence_errors": s.sequence_errors,
                "malformed": s.malformed,
                "domains": {str(d): {"messages": ds.messages,
                                     "records": ds.records,
                                     "next_seq": ds.next_seq}
                            for d, ds in s.domains.items()},
            }
        return {
            "messages": self.messages,
            "sessions": len(self.sessions),
            "data_records": self.data_records,
            "options_records": self.options_records,
            "template_records": self.template_records,
            "options_template_records":
                self.options_template_records,
            "template_withdrawals": self.template_withdrawals,
            "template_conflicts": self.template_conflicts,
            "sequence_errors": self.sequence_errors,
            "sequence_error_details": self.sequence_error_details,
            "malformed": self.malformed,
            "malformed_details": self.malformed_details,
            "unknown_template_sets": self.unknown_template_sets,
            "empty_sets": self.empty_sets,
            "export_time_backwards": self.export_time_backwards,
            "domains": sorted(self.domains),
            "per_domain": {str(d): {"messages": v[0],
                                    "data_records": v[1],
                                    "options_records": v[2]}
                           for d, v in sorted(self.domains.items())},
            "per_session": per_session,
            "templates": self.templates_seen,
            "options_scope_counts": self.options_scopes,
            "totals": {"packetDeltaCount": tot_p,
                       "octetDeltaCount": tot_o},
            "by_end_reason": by_reason,
            "by_flow": by_flow,
            "options": [self.options_last[k]
                        for k in sorted(self.options_last)],
            "udp_socket_drops": self.udp_drops,
            "collector_errors": self.collector_errors,
        }


def slot_text(v):
    """A by_flow key part: ints (the common case) first."""
    if v.__class__ is int:
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return addr_text(bytes(v)) if len(v) in (4, 16) else v.hex()
    return str(v)


# --- transport ---------------------------------------------------------

def host_text(addr):
    """Source address as text; IPv4-mapped (dual-stack socket) as IPv4."""
    a = ipaddress.ip_address(addr.split("%")[0])
    if a.version == 6 and a.ipv4_mapped:
        a = a.ipv4_mapped
    return "[%s]" % a if a.version == 6 else str(a)


class TcpConn:
    def __init__(self, sock, session):
        self.sock = sock
        self.session = session
        self.pending = b""


class Server:
    def __init__(self, args, collector):
        self.args = args
        self.col = collector
        self.sel = selectors.DefaultSelector()
        self.udp = None
        self.tcp = None
        self.udp_sessions = {}
        self.conns = {}
        self.conn_serial = 0
        self.stop = False
        self.snapshot = False

    def family(self):
        return socket.AF_INET6 if ":" in self.args.bind else \
            socket.AF_INET

    def _socket(self, kind):
        s = socket.socket(self.family(), kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.family() == socket.AF_INET6 and \
                self.args.bind in ("::", "::0"):
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        return s

    def bind(self):
        if self.args.udp is not None:
            self.udp = self._socket(socket.SOCK_DGRAM)
            size = 32 << 20
            try:  # root may exceed net.core.rmem_max
                self.udp.setsockopt(socket.SOL_SOCKET, 33, size)
            except OSError:
                self.udp.setsockopt(socket.SOL_SOCKET,
                                    socket.SO_RCVBUF, size)
            self.udp.bind((self.args.bind, self.args.udp))
            self.udp.setblocking(False)
            self.sel.register(self.udp, selectors.EVENT_READ, "udp")
        if self.args.tcp is not None:
            self.tcp = self._socket(socket.SOCK_STREAM)
            self.tcp.bind((self.args.bind, self.args.tcp))
            self.tcp.listen(64)
            self.tcp.setblocking(False)
            self.sel.register(self.tcp, selectors.EVENT_READ,
                              "listen")

    def ports(self):
        return {"udp": self.udp.getsockname()[1] if self.udp else None,
                "tcp": self.tcp.getsockname()[1] if self.tcp else None}

    def read_udp(self, budget=4096):
        """Up to budget datagrams; returns how many were read."""
        n = 0
        while n < budget:
            try:
                data, addr = self.udp.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                break
            n += 1
            sess = self.udp_sessions.get(addr[:2])
            if sess is None:
                name = "udp:%s:%d" % (host_text(addr[0]), addr[1])
                sess = self.col.session(name, "udp")
                self.udp_sessions[addr[:2]] = sess
            self.col.message(sess, data)
        return n

    def accept(self):
        while True:
            try:
                sock, addr = self.tcp.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(False)
            self.conn_serial += 1
            name = "tcp:%s:%d#%d" % (host_text(addr[0]), addr[1],
                                     self.conn_serial)
            c = TcpConn(sock, self.col.session(name, "tcp"))
            self.conns[sock.fileno()] = c
            self.sel.register(sock, selectors.EVENT_READ, c)

    def close_conn(self, c, why=None):
        if why:
            self.col.bad(c.session, None, why)
        self.sel.unregister(c.sock)
        del self.conns[c.sock.fileno()]
        c.sock.close()

    def read_tcp(self, c):
        """Read once; frame messages by the header's length field."""
        try:
            data = c.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as e:
            self.close_conn(c, "connection error: %s" % e)
            return 0
        if not data:
            why = None
            if c.pending:
                why = "connection closed inside a message " \
                      "(%d bytes pending)" % len(c.pending)
            self.close_conn(c, why)
            return 0
        buf = c.pending + data if c.pending else data
        pos = 0
        mv = memoryview(buf)
        while len(buf) - pos >= 4:
            ver, length = U16X2.unpack_from(buf, pos)
            if ver != IPFIX_VERSION or length < MSG_HDR.size:
                # no way to find the next message boundary
                c.pending = b""
                self.close_conn(c, "TCP stream: version %d length "
                                "%d; connection dropped" %
                                (ver, length))
                return len(data)
            if len(buf) - pos < length:
                break
            self.col.message(c.session, mv[pos:pos + length])
            pos += length
        c.pending = buf[pos:]
        return len(data)

    def on_signal(self, signum, frame):
        if signum == signal.SIGUSR1:
            self.snapshot = True
        else:
            self.stop = True

    def dispatch(self, timeout):
        """Serve the sockets that are ready; returns how many were."""
        events = self.sel.select(timeout)
        for key, _ in events:
            tag = key.data
            if tag == "udp":
                self.read_udp()
            elif tag == "listen":
                self.accept()
            elif tag == "wake":
                try:
                    key.fileobj.recv(64)
                except OSError:
                    pass
            else:
                self.read_tcp(tag)
        return len(events)

    def run(self, duration):
        deadline = time.monotonic() + duration
        while not self.stop and time.monotonic() < deadline:
            self.dispatch(0.2)
            if self.snapshot:
                self.snapshot = False
                write_summary(self.args.out, self.col)
        self.drain()

    def drain(self):
        """Whatever was sent before the stop still counts: serve until
        the sockets stay idle for 100 ms (data still crossing loopback,
        e.g. a TCP send buffer behind a full window, arrives well within
        that), at most DRAIN_SECONDS."""
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline and self.dispatch(0.1):
            pass

    def close(self):
        for c in list(self.conns.values()):
            self.close_conn(c)
        if self.udp:
            self.col.udp_drops = socket_drops(self.udp)
            self.udp.close()
        if self.tcp:
            self.tcp.close()
        self.sel.close()


def socket_drops(sock):
    """The kernel's drop counter for our UDP socket (last column of
    /proc/net/udp{,6}), to tell collector-side loss from exporter bugs."""
    inode = str(os.fstat(sock.fileno()).st_ino)
    for path in ("/proc/self/net/udp", "/proc/self/net/udp6"):
        try:
            with open(path) as f:
                for line in f:
                    cols = line.split()
                    if len(cols) > 12 and cols[9] == inode:
                        return int(cols[-1])
        except OSError:
            pass
    return None


def write_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_summary(path, collector):
    write_atomic(path, json.dumps(collector.summary(), sort_keys=True))


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Strict IPFIX (RFC 7011) test collector")
    p.add_argument("--udp", type=int, metavar="PORT")
    p.add_argument("--tcp", type=int, metavar="PORT")
    p.add_argument("--bind", default="127.0.0.1", metavar="ADDR")
    p.add_argument("--out", required=True, metavar="FILE.json")
    p.add_argument("--records", metavar="FILE.jsonl")
    p.add_argument("--ready-file", metavar="PATH")
    p.add_argument("--duration", type=float, default=DEFAULT_DURATION,
                   metavar="SECONDS")
    p.add_argument("--accept-first-seq", action="store_true",
                   help="UDP: take the first sequence number of each "
                   "session and domain as the start (collector started "
                   "after the exporter)")
    a = p.parse_args(argv)
    if a.udp is None and a.tcp is None:
        p.error("need --udp PORT and/or --tcp PORT")
    if a.duration <= 0:
        p.error("--duration must be > 0")
    return a


def main(argv):
    args = parse_args(argv)
    records = None
    if args.records:
        records = open(args.records, "w", buffering=1 << 20)
    col = Collector(records, args.accept_first_seq)
    srv = Server(args, col)
    try:
        srv.bind()
    except OSError as e:
        print("ipfix_collector: cannot bind %s: %s" % (args.bind, e),
              file=sys.stderr)
        return 1
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    srv.sel.register(wake_r, selectors.EVENT_READ, "wake")
    signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        signal.signal(sig, srv.on_signal)
    if args.ready_file:
        info = dict(srv.ports(), pid=os.getpid(), bind=args.bind)
        write_atomic(args.ready_file, json.dumps(info) + "\n")
    srv.run(args.duration)
    srv.close()
    if records:
        records.close()
    write_summary(args.out, col)
    print("ipfix_collector: %d messages, %d sessions, %d data + %d options "
          "records, %d sequence errors, %d malformed, %d unknown-template "
          "sets" % (col.messages, len(col.sessions), col.data_records,
                    col.options_records, col.sequence_errors, col.malformed,
                    col.unknown_template_sets), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
