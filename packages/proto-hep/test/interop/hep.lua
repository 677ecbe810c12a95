-- A small HEP dissector for tshark 4.0 (which has none): HEPv3 on UDP and TCP, HEPv1/v2 on
-- UDP. Exports hep.* fields and hands proto type 1 payloads to the SIP dissector.
-- Use: tshark -X lua_script:hep.lua -d udp.port==N,hep -d tcp.port==N,hep
local hep = Proto("hep", "Homer Encapsulation Protocol")
local f = hep.fields
f.version = ProtoField.uint8("hep.version", "Version")
f.length = ProtoField.uint16("hep.length", "Length")
f.family = ProtoField.uint8("hep.family", "IP family")
f.ip_proto = ProtoField.uint8("hep.ip_proto", "IP protocol")
f.src_ip = ProtoField.ipv4("hep.src_ip", "Source IP")
f.dst_ip = ProtoField.ipv4("hep.dst_ip", "Destination IP")
f.src_ip6 = ProtoField.ipv6("hep.src_ip6", "Source IPv6")
f.dst_ip6 = ProtoField.ipv6("hep.dst_ip6", "Destination IPv6")
f.src_port = ProtoField.uint16("hep.src_port", "Source port")
f.dst_port = ProtoField.uint16("hep.dst_port", "Destination port")
f.ts_sec = ProtoField.uint32("hep.ts_sec", "Timestamp seconds")
f.ts_usec = ProtoField.uint32("hep.ts_usec", "Timestamp microseconds")
f.proto_type = ProtoField.uint8("hep.proto_type", "Protocol type")
f.capture_id = ProtoField.uint32("hep.capture_id", "Capture id")
f.correlation_id = ProtoField.string("hep.correlation_id", "Correlation id")
f.chunk_type = ProtoField.uint16("hep.chunk_type", "Chunk type", base.HEX)
f.payload = ProtoField.bytes("hep.payload", "Payload")

local sip = Dissector.get("sip")
local PT_TCP = 2

local function hand_payload(tvb, pinfo, tree, ptype, off, len)
  if len > 0 and ptype == 1 then
    sip:call(tvb(off, len):tvb(), pinfo, tree)
  end
end

local function dissect_v3(tvb, pinfo, tree)
  local total = tvb(4, 2):uint()
  local t = tree:add(hep, tvb(0, total))
  t:add(f.version, 3)
  t:add(f.length, tvb(4, 2))
  local off = 6
  local ptype, poff, plen = 0, 0, 0
  while off + 6 <= total do
    local ctype = tvb(off + 2, 2):uint()
    local clen = tvb(off + 4, 2):uint()
    if clen < 6 or off + clen > total then break end
    t:add(f.chunk_type, tvb(off + 2, 2))
    local n = clen - 6
    local d = n > 0 and tvb(off + 6, n) or nil
    if d then
      if ctype == 1 then t:add(f.family, d)
      elseif ctype == 2 then t:add(f.ip_proto, d)
      elseif ctype == 3 then t:add(f.src_ip, d)
      elseif ctype == 4 then t:add(f.dst_ip, d)
      elseif ctype == 5 then t:add(f.src_ip6, d)
      elseif ctype == 6 then t:add(f.dst_ip6, d)
      elseif ctype == 7 then t:add(f.src_port, d)
      elseif ctype == 8 then t:add(f.dst_port, d)
      elseif ctype == 9 then t:add(f.ts_sec, d)
      elseif ctype == 10 then t:add(f.ts_usec, d)
      elseif ctype == 11 then t:add(f.proto_type, d); ptype = d:uint()
      elseif ctype == 12 then t:add(f.capture_id, d)
      elseif ctype == 15 or ctype == 16 then t:add(f.payload, d); poff = off + 6; plen = n
      elseif ctype == 17 then t:add(f.correlation_id, d)
      end
    end
    off = off + clen
  end
  pinfo.cols.protocol = "HEP3"
  hand_payload(tvb, pinfo, tree, ptype, poff, plen)
  return total
end

local function dissect_v12(tvb, pinfo, tree)
  local version = tvb(0, 1):uint()
  local hl = tvb(1, 1):uint()
  local family = tvb(2, 1):uint()
  local t = tree:add(hep, tvb(0, tvb:len()))
  t:add(f.version, tvb(0, 1))
  t:add(f.family, tvb(2, 1))
  t:add(f.ip_proto, tvb(3, 1))
  t:add(f.src_port, tvb(4, 2))
  t:add(f.dst_port, tvb(6, 2))
  if family == 2 then
    t:add(f.src_ip, tvb(8, 4)); t:add(f.dst_ip, tvb(12, 4))
  else
    t:add(f.src_ip6, tvb(8, 16)); t:add(f.dst_ip6, tvb(24, 16))
  end
  local off = hl
  if version == 2 then
    -- host byte order (little-endian) time block; Kamailio pads it to 12 bytes
    t:add_le(f.ts_sec, tvb(off, 4))
    t:add_le(f.ts_usec, tvb(off + 4, 4))
    t:add_le(f.capture_id, tvb(off + 8, 2))
    if tvb:len() >= off + 12 and tvb(off + 10, 2):uint() == 0 then off = off + 12 else off = off + 10 end
  end
  pinfo.cols.protocol = "HEP" .. version
  hand_payload(tvb, pinfo, tree, 1, off, tvb:len() - off)
  return tvb:len()
end

local function v3_len(tvb, pinfo, off)
  return tvb(off + 4, 2):uint()
end

function hep.dissector(tvb, pinfo, tree)
  if tvb:len() < 6 then return 0 end
  if tvb(0, 4):string() == "HEP3" then
    if pinfo.port_type == PT_TCP then
      dissect_tcp_pdus(tvb, tree, 6, v3_len, dissect_v3)
      return tvb:len()
    end
    return dissect_v3(tvb, pinfo, tree)
  end
  local v = tvb(0, 1):uint()
  if (v == 1 or v == 2) and pinfo.port_type ~= PT_TCP then return dissect_v12(tvb, pinfo, tree) end
  return 0
end

DissectorTable.get("udp.port"):add_for_decode_as(hep)
DissectorTable.get("tcp.port"):add_for_decode_as(hep)
