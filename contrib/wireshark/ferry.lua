-- ferry.lua: Wireshark dissectors for ferry's protocols, three protocols of
-- their own so that each can be named in a filter or in Decode As:
--
--   ferry         the native file protocol (docs/PROTOCOL.md): FILE_REQUEST,
--                 GET, LIST and the hub's upload, PUT (its content and, on
--                 the secure wire, its MAC); TCP 12345 and, by a
--                 heuristic, any port whose first client bytes are a whole
--                 well-formed request
--   ferrylottery  the lottery service's commands and answers: no default
--                 port, decode as (tshark -d tcp.port==P,ferrylottery)
--   ferryhub      the hub's datagrams, plain or in the secure envelope,
--                 and the secure wire's login (HELLO, CHALLENGE, sealed
--                 PROOF), UDP 12345 and, by a heuristic, any port ("FR"
--                 magic, a known opcode and a length that adds up)
--
-- Load it with tshark -X lua_script:contrib/wireshark/ferry.lua, or copy it
-- into the personal Lua plugins folder (~/.local/lib/wireshark/plugins/).
-- Needs a Wireshark built with Lua (tshark -v says "with Lua"); written
-- against 4.0.
--
-- Messages split across TCP segments are reassembled through
-- pinfo.desegment_offset/desegment_len; several messages in one segment are
-- each dissected. The native protocol needs per-connection state (which side
-- is the client, what was asked, how many bytes of content are still due):
-- it is computed in file order on the first pass and a copy of it is kept
-- for each piece of data dissected, so that a later pass (tshark -2, or the
-- GUI revisiting a frame) starts that piece from the state it first had.

local NATIVE_PORT = 12345
local HUB_PORT = 12345

local tcp_stream_f = Field.new("tcp.stream")

-- A key naming this packet's TCP connection: tcp.stream, else the address
-- pair (a capture without TCP's conversation tracking still works).
local function conv_key(pinfo)
    local all = { tcp_stream_f() }
    local fi = all[#all]
    if fi then
        return "s" .. tostring(fi.value)
    end
    local a = tostring(pinfo.src) .. ":" .. pinfo.src_port
    local b = tostring(pinfo.dst) .. ":" .. pinfo.dst_port
    if a > b then a, b = b, a end
    return a .. "-" .. b
end

-- The first protocol to dissect something in a frame sets the Protocol and
-- Info columns; the next pieces in the same frame are appended.
local function set_info(pinfo, label, text)
    if tostring(pinfo.cols.protocol) ~= label then
        pinfo.cols.protocol:set(label)
        pinfo.cols.info:set(text)
    else
        pinfo.cols.info:append(", " .. text)
    end
end

-- A range of n bytes at off, cut to what was captured (content may be
-- longer than the snapshot length).
local function range(tvb, off, n)
    local have = tvb:len() - off
    if n > have then n = have end
    return tvb(off, n)
end

-- Text for the Info column: control characters as dots.
local function printable(text)
    return (text:gsub("%c", "."))
end

-- Dissects the messages of a TCP segment one after another: step(off,
-- left) returns the bytes one message used, or nil and the bytes it needs
-- in all, and then TCP is asked to reassemble from there.
local function each_pdu(tvb, pinfo, step)
    local len, off = tvb:reported_len(), 0
    while off < len do
        local used, need = step(off, len - off)
        if not used then
            pinfo.desegment_offset = off
            pinfo.desegment_len = need
            return len
        end
        off = off + used
    end
    return len
end

local function copy(t)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    return c
end

-- Which side of a connection is the server: the one on the port that the
-- dissector table matched (the default port or a Decode As), unless both
-- ports are the same; else the side that spoke first (the client, in every
-- protocol here).
local function client_side(pinfo)
    local m = pinfo.match_uint
    if m and m ~= 0 and pinfo.src_port ~= pinfo.dst_port then
        if pinfo.dst_port == m then
            return tostring(pinfo.src), pinfo.src_port
        elseif pinfo.src_port == m then
            return tostring(pinfo.dst), pinfo.dst_port
        end
    end
    return tostring(pinfo.src), pinfo.src_port
end

local function from_client(pinfo, st)
    return tostring(pinfo.src) == st.caddr and pinfo.src_port == st.cport
end

------------------------------------------------------------------ native

local ferry = Proto("ferry", "Ferry native file protocol")

local TYPES = {
    [1] = "FILE_REQUEST", [2] = "FILE_RESPONSE", [3] = "READY", [4] = "REFUSE",
    [5] = "LIST", [6] = "LIST_RESPONSE", [7] = "GET", [8] = "PUT",
}
local STATUS = {
    [0] = "OK", [1] = "VERSION_MISMATCH", [2] = "INVALID_NAME", [3] = "NOT_FOUND",
    [4] = "NOT_REGULAR", [5] = "ACCESS_DENIED", [6] = "BAD_REQUEST", [7] = "SERVER_ERROR",
    [8] = "TOO_LARGE", [9] = "BAD_OFFSET", [10] = "BUSY", [11] = "UNAUTHORIZED",
}
local PUT_HEAD, PUT_NAME_MAX, MAC_LEN = 16, 100, 32 -- common/wire.h: WIRE_PUT_*

local nf = {
    version = ProtoField.uint8("ferry.version", "Version"),
    type = ProtoField.uint8("ferry.type", "Type", base.HEX, TYPES),
    name_len = ProtoField.uint16("ferry.name_len", "Name length"),
    name = ProtoField.string("ferry.name", "Name"),
    offset = ProtoField.uint64("ferry.offset", "Offset"),
    max_size = ProtoField.uint64("ferry.max_size", "Max size"),
    zero = ProtoField.uint16("ferry.list_zero", "Zero", base.HEX),
    status = ProtoField.uint8("ferry.status", "Status", base.DEC, STATUS),
    size = ProtoField.uint64("ferry.size", "Size"),
    count = ProtoField.uint32("ferry.count", "Record count"),
    record = ProtoField.none("ferry.record", "Record"),
    rec_name_len = ProtoField.uint16("ferry.record.name_len", "Name length"),
    rec_name = ProtoField.string("ferry.record.name", "Name"),
    rec_size = ProtoField.uint64("ferry.record.size", "Size"),
    rec_mtime = ProtoField.int64("ferry.record.mtime", "Modification time (Unix seconds)"),
    rec_kind = ProtoField.uint8("ferry.record.kind", "Kind", base.DEC, { [0] = "regular file" }),
    content_bytes = ProtoField.uint32("ferry.content_bytes", "Content bytes here"),
    content_offset = ProtoField.uint64("ferry.content_offset", "File offset of these bytes"),
    content_left = ProtoField.uint64("ferry.content_remaining", "Content bytes still due"),
    extra = ProtoField.bytes("ferry.extra", "Unexpected bytes"),
    request_in = ProtoField.framenum("ferry.request_in", "Request in", base.NONE,
        frametype.REQUEST),
    put_size = ProtoField.uint64("ferry.put.size", "Size (content bytes that follow)"),
    put_token = ProtoField.uint32("ferry.put.token", "Hub session token", base.HEX),
    put_mac = ProtoField.bytes("ferry.put.mac", "MAC (keyed BLAKE2b-256, the secure wire's)"),
    put_wire = ProtoField.string("ferry.put.wire", "Wire (from what followed the content)"),
}
ferry.fields = {
    nf.version, nf.type, nf.name_len, nf.name, nf.offset, nf.max_size, nf.zero, nf.status,
    nf.size, nf.count, nf.record, nf.rec_name_len, nf.rec_name, nf.rec_size, nf.rec_mtime,
    nf.rec_kind, nf.content_bytes, nf.content_offset, nf.content_left, nf.extra, nf.request_in,
    nf.put_size, nf.put_token, nf.put_mac, nf.put_wire,
}

local ne = {
    version = ProtoExpert.new("ferry.bad_version", "Version is not 1", expert.group.PROTOCOL,
        expert.severity.WARN),
    bad_type = ProtoExpert.new("ferry.bad_type", "Unknown message type", expert.group.MALFORMED,
        expert.severity.WARN),
    bad_name = ProtoExpert.new("ferry.bad_name", "Invalid name (the server answers INVALID_NAME)",
        expert.group.PROTOCOL, expert.severity.NOTE),
    bad_list = ProtoExpert.new("ferry.bad_list", "LIST with a non-zero field (BAD_REQUEST)",
        expert.group.PROTOCOL, expert.severity.NOTE),
    error_status = ProtoExpert.new("ferry.error_status", "The server refused the request",
        expert.group.RESPONSE_CODE, expert.severity.NOTE),
    extra = ProtoExpert.new("ferry.extra_bytes", "Bytes beyond what the protocol allows",
        expert.group.PROTOCOL, expert.severity.WARN),
    mismatch = ProtoExpert.new("ferry.mismatch", "Answer does not fit the request",
        expert.group.SEQUENCE, expert.severity.WARN),
}
ferry.experts = { ne.version, ne.bad_type, ne.bad_name, ne.bad_list, ne.error_status,
    ne.extra, ne.mismatch }

local native_convs, native_snaps, native_heur_first = {}, {}, {}

function ferry.init()
    native_convs, native_snaps, native_heur_first = {}, {}, {}
end

-- Printable ASCII without '/', neither "." nor "..": docs/PROTOCOL.md.
local function valid_name(s)
    return #s >= 1 and #s <= 255 and s ~= "." and s ~= ".." and not s:find("[^\32-\126]")
        and not s:find("/", 1, true)
end

-- A PUT's name: a valid name, besides at most 100 bytes and no leading
-- "." (the server's temporary files are ".ferry-put-...").
local function valid_put_name(s)
    return valid_name(s) and #s <= PUT_NAME_MAX and s:sub(1, 1) ~= "."
end

local function add_name(t, tvb, off, n, put)
    local item = t:add(nf.name, tvb(off, n))
    if put and not valid_put_name(tvb:raw(off, n)) then
        item:add_proto_expert_info(ne.bad_name, "Invalid name for a PUT (1-100 bytes, no " ..
            "leading '.'): the server answers INVALID_NAME")
    elseif not valid_name(tvb:raw(off, n)) then
        item:add_proto_expert_info(ne.bad_name)
    end
    return tvb(off, n):string()
end

-- Each message parser gets the data at off (avail bytes) and returns the
-- bytes it used, or nil and how many more bytes it needs.

-- The client's request: FILE_REQUEST, GET, LIST or PUT (anything else
-- the server rejects after two bytes).
local function native_request(tvb, off, avail, pinfo, tree, s)
    -- Ask for the whole request at once when its length is known (a first
    -- guess followed by a second request confuses TCP's second pass).
    if avail < 2 then return nil, DESEGMENT_ONE_MORE_SEGMENT end
    local version, mtype = tvb(off, 1):uint(), tvb(off + 1, 1):uint()
    local head, len, nl = 4, avail, 0
    local name_max = mtype == 8 and PUT_NAME_MAX or 255
    if version == 1 and not (mtype == 1 or mtype == 5 or mtype == 7 or mtype == 8) then
        head, len = 2, 2 -- the server reads no further
    elseif version == 1 then
        if avail < 4 then return nil, DESEGMENT_ONE_MORE_SEGMENT end
        nl = tvb(off + 2, 2):uint()
        if mtype == 7 then head = 20 elseif mtype == 8 then head = PUT_HEAD end
        len = head
        if mtype ~= 5 and nl >= 1 and nl <= name_max then len = head + nl end
    end
    if avail < len then return nil, len - avail end
    local t = tree:add(ferry, tvb(off, len))
    t:add(nf.version, tvb(off, 1))
    t:add(nf.type, tvb(off + 1, 1))
    s.c, s.req_type, s.req_frame = "done", mtype, pinfo.number
    if version ~= 1 then
        t:add_proto_expert_info(ne.version, "Version " .. version ..
            ": the server answers VERSION_MISMATCH and reads no further")
        t:append_text(", " .. (TYPES[mtype] or "unknown type") .. " (version " .. version .. ")")
        if len > 2 then t:add(nf.extra, tvb(off + 2, len - 2)):append_text(" (not read)") end
        set_info(pinfo, "FERRY", "Request version " .. version)
        s.req_type = nil
        return len
    end
    local tname = TYPES[mtype] or string.format("type 0x%02x", mtype)
    t:append_text(", " .. tname)
    local info = tname
    if mtype == 5 then
        local z = t:add(nf.zero, tvb(off + 2, 2))
        if tvb(off + 2, 2):uint() ~= 0 then z:add_proto_expert_info(ne.bad_list) end
    elseif mtype == 1 or mtype == 7 or mtype == 8 then
        local nitem = t:add(nf.name_len, tvb(off + 2, 2))
        if mtype == 7 then
            t:add(nf.offset, tvb(off + 4, 8))
            t:add(nf.max_size, tvb(off + 12, 8))
            s.req_offset = tvb(off + 4, 8):uint64():tonumber()
        elseif mtype == 8 then
            t:add(nf.put_size, tvb(off + 4, 8))
            t:add(nf.put_token, tvb(off + 12, 4))
            s.put_size = tvb(off + 4, 8):uint64():tonumber()
        end
        if len > head then
            local name = add_name(t, tvb, off + head, nl, mtype == 8)
            t:append_text(": " .. name)
            info = info .. " " .. name
        else
            nitem:add_proto_expert_info(ne.bad_name, "Name length " .. nl ..
                (mtype == 8 and " (a PUT's name is 1-100 bytes)" or "") ..
                ": the server answers INVALID_NAME without reading a name")
        end
        if mtype == 7 then
            info = info .. " offset=" .. tostring(tvb(off + 4, 8):uint64())
                .. " max_size=" .. tostring(tvb(off + 12, 8):uint64())
        elseif mtype == 8 then
            info = info .. " size=" .. tostring(tvb(off + 4, 8):uint64())
                .. string.format(" token=0x%08x", tvb(off + 12, 4):uint())
            if len > head then
                -- The content follows the request at once, whatever the
                -- answer will be (a refusal drains it), then maybe a MAC.
                s.up_left, s.up_pos = s.put_size, 0
                s.c = s.up_left > 0 and "upload" or "mac"
            end
        elseif len > head then
            s.c = "ready" -- READY or REFUSE follows the answer
        end
    else
        t:add_proto_expert_info(ne.bad_type, "Type " .. mtype .. ": the server answers BAD_REQUEST")
    end
    set_info(pinfo, "FERRY", info)
    return len
end

-- READY or REFUSE, one byte after a FILE_REQUEST's answer.
local function native_ready(tvb, off, avail, pinfo, tree, s)
    local t = tree:add(ferry, tvb(off, 1))
    local b = tvb(off, 1):uint()
    local item = t:add(nf.type, tvb(off, 1))
    if b == 3 or b == 4 then
        t:append_text(", " .. TYPES[b])
        set_info(pinfo, "FERRY", TYPES[b])
    else
        item:add_proto_expert_info(ne.bad_type, "Neither READY nor REFUSE: the server closes")
        set_info(pinfo, "FERRY", "not READY")
    end
    s.c = "done"
    return 1
end

-- FILE_RESPONSE (11 bytes) or LIST_RESPONSE's 7-byte header.
local function native_response(tvb, off, avail, pinfo, tree, s)
    if avail < 2 then return nil, DESEGMENT_ONE_MORE_SEGMENT end
    local version, mtype = tvb(off, 1):uint(), tvb(off + 1, 1):uint()
    local len = (mtype == 2 and 11) or (mtype == 6 and 7) or avail
    if avail < len then return nil, len - avail end
    local t = tree:add(ferry, tvb(off, len))
    local vitem = t:add(nf.version, tvb(off, 1))
    if version ~= 1 then
        vitem:add_proto_expert_info(ne.version, "Version " .. version ..
            ": a client takes any such answer for VERSION_MISMATCH")
    end
    t:add(nf.type, tvb(off + 1, 1))
    s.s = "done"
    if mtype ~= 2 and mtype ~= 6 then
        t:add_proto_expert_info(ne.bad_type)
        set_info(pinfo, "FERRY", "unknown answer")
        return len
    end
    local status = tvb(off + 2, 1):uint()
    local sitem = t:add(nf.status, tvb(off + 2, 1))
    local sname = STATUS[status] or ("status " .. status)
    if status ~= 0 then sitem:add_proto_expert_info(ne.error_status, sname) end
    if mtype == 2 then
        t:add(nf.size, tvb(off + 3, 8))
        local size64 = tvb(off + 3, 8):uint64()
        local size = size64:tonumber()
        t:append_text(", FILE_RESPONSE " .. sname .. ", size " .. tostring(size64))
        set_info(pinfo, "FERRY", "FILE_RESPONSE " .. sname .. " size=" .. tostring(size64))
        if s.req_type == 8 then
            -- Every answer to a PUT is the last message: nothing follows.
            s.put_status = status
            if s.put_mac_seen then
                t:add(nf.put_wire, tvb(off, len), "secure"):set_generated()
            elseif status == 0 and s.c == "mac" then
                t:add(nf.put_wire, tvb(off, len), "plain"):set_generated()
            end
            if status == 0 and s.c == "upload" then
                t:add_proto_expert_info(ne.mismatch, string.format(
                    "PUT answered OK with %.0f bytes of its content still due", s.up_left))
            end
            if status == 0 and s.put_size and size ~= s.put_size then
                t:add_proto_expert_info(ne.mismatch, string.format(
                    "PUT of %.0f bytes answered OK with size %s", s.put_size, tostring(size64)))
            end
        elseif status == 0 and s.req_type == 5 then
            t:add_proto_expert_info(ne.mismatch, "LIST answered by a FILE_RESPONSE OK")
        elseif status == 0 then
            -- GET: the rest of the file from offset, at once; FILE_REQUEST
            -- (or a request not captured): the whole file, after READY.
            local from = (s.req_type == 7 and s.req_offset) or 0
            if from > size then from = size end
            s.left, s.pos = size - from, from
            if s.left > 0 then s.s = "content" end
        end
    else
        t:add(nf.count, tvb(off + 3, 4))
        local count = tvb(off + 3, 4):uint()
        t:append_text(", LIST_RESPONSE " .. sname .. ", " .. count .. " records")
        set_info(pinfo, "FERRY", "LIST_RESPONSE " .. sname .. " count=" .. count)
        if s.req_type and s.req_type ~= 5 then
            t:add_proto_expert_info(ne.mismatch, "LIST_RESPONSE to another request")
        end
        s.recs_left, s.rec_no = count, 0
        if count > 0 then s.s = "records" end
    end
    if s.req_frame then t:add(nf.request_in, s.req_frame):set_generated() end
    return len
end

-- One LIST_RESPONSE record: name_len, name, size, mtime, kind.
local function native_record(tvb, off, avail, pinfo, tree, s)
    if avail < 2 then return nil, DESEGMENT_ONE_MORE_SEGMENT end
    local nl = tvb(off, 2):uint()
    local len = 2 + nl + 17
    if avail < len then return nil, len - avail end
    s.rec_no = s.rec_no + 1
    local t = tree:add(ferry, tvb(off, len))
    local r = t:add(nf.record, tvb(off, len))
    r:add(nf.rec_name_len, tvb(off, 2))
    local name = nl > 0 and tvb(off + 2, nl):string() or ""
    if nl > 0 then r:add(nf.rec_name, tvb(off + 2, nl)) end
    r:add(nf.rec_size, tvb(off + 2 + nl, 8))
    local mt = r:add(nf.rec_mtime, tvb(off + 10 + nl, 8))
    local secs = tvb(off + 10 + nl, 8):int64():tonumber()
    local ok, date = pcall(os.date, "!%Y-%m-%d %H:%M:%S UTC", secs)
    if ok and date then mt:append_text(" (" .. date .. ")") end
    r:add(nf.rec_kind, tvb(off + 18 + nl, 1))
    local text = string.format("record %d/%d: %s, %s bytes", s.rec_no, s.rec_no + s.recs_left - 1,
        name, tostring(tvb(off + 2 + nl, 8):uint64()))
    t:append_text(", LIST_RESPONSE " .. text)
    r:append_text(" " .. s.rec_no .. ": " .. name)
    set_info(pinfo, "FERRY", "Record " .. name)
    s.recs_left = s.recs_left - 1
    if s.recs_left == 0 then s.s = "done" end
    return len
end

-- Content, the server's (left, pos) or a PUT's (up_left, up_pos):
-- counted, never parsed. Returns the bytes used.
local function count_content(tvb, off, avail, pinfo, tree, s, left, pos, label)
    local n = avail < s[left] and avail or s[left]
    local r = range(tvb, off, n)
    local t = tree:add(ferry, r)
    t:append_text(string.format(", %s: %d bytes", label, n))
    t:add(nf.content_bytes, r, n):set_generated()
    t:add(nf.content_offset, r, UInt64.new(s[pos])):set_generated()
    s[left], s[pos] = s[left] - n, s[pos] + n
    t:add(nf.content_left, r, UInt64.new(s[left])):set_generated()
    set_info(pinfo, "FERRY", string.format("%s %d bytes (%.0f left)",
        label:gsub("^%l", string.upper), n, s[left]))
    return n
end

local function native_content(tvb, off, avail, pinfo, tree, s)
    local n = count_content(tvb, off, avail, pinfo, tree, s, "left", "pos", "content")
    if s.left == 0 then s.s = "done" end
    return n
end

-- A PUT's content, from the client.
local function native_upload(tvb, off, avail, pinfo, tree, s)
    local n = count_content(tvb, off, avail, pinfo, tree, s, "up_left", "up_pos",
        "PUT content")
    if s.up_left == 0 then s.c = "mac" end
    return n
end

local function native_extra(tvb, off, avail, pinfo, tree, s, why)
    local r = range(tvb, off, avail)
    local t = tree:add(ferry, r)
    t:append_text(string.format(", %d unexpected bytes", avail))
    local item = t:add(nf.extra, r)
    if why then
        item:add_proto_expert_info(ne.extra, why)
    else
        item:add_proto_expert_info(ne.extra)
    end
    set_info(pinfo, "FERRY", avail .. " unexpected bytes")
    return avail
end

-- What follows a PUT's content. The PUT does not say which wire it is on:
-- on the hub's secure wire a 32-byte MAC follows the content, on the plain
-- wire nothing does. The rule: the first 32 bytes the client sends after
-- the content are the MAC, unless the server has already answered OK (it
-- answers OK only once it has read all it wants: the MAC, on the secure
-- wire, came before). Bytes beyond those 32 are unexpected. A MAC split
-- across segments is reassembled; after a refusal (sent before the content
-- was read) the client's content and MAC may still follow, drained by the
-- server, and are shown as they are. A conforming client is thus never
-- misread: the secure wire's sends exactly 32 bytes, the plain wire's none.
-- (A plain client that sent fewer than 32 stray bytes and closed leaves
-- them in an unfinished reassembly, shown by TCP only.) The FILE_RESPONSE
-- says which wire it saw (ferry.put.wire): secure when a MAC came before
-- it, plain when it is OK and nothing followed the whole content.
local function native_mac(tvb, off, avail, pinfo, tree, s)
    if s.put_status == 0 then
        return native_extra(tvb, off, avail, pinfo, tree, s,
            "Sent after the server answered the PUT OK: not a MAC")
    end
    if avail < MAC_LEN then return nil, MAC_LEN - avail end
    local t = tree:add(ferry, tvb(off, MAC_LEN))
    t:add(nf.put_mac, tvb(off, MAC_LEN))
    t:append_text(", PUT MAC")
    set_info(pinfo, "FERRY", "PUT MAC")
    s.c, s.put_mac_seen = "done", true
    return MAC_LEN
end

local client_step = { request = native_request, ready = native_ready, upload = native_upload,
    mac = native_mac, done = native_extra }
local server_step = { response = native_response, records = native_record,
    content = native_content, done = native_extra }

local function native_dissect(tvb, pinfo, tree)
    local key = conv_key(pinfo)
    local st = native_convs[key]
    if not st then
        st = { c = "request", s = "response" }
        st.caddr, st.cport = client_side(pinfo)
        native_convs[key] = st
    end
    -- The state this piece of data starts from: the live state the first
    -- time it is seen (and a copy kept), that copy every later time.
    local piece = pinfo.number .. ":" .. tvb:offset() .. ":" .. tvb:reported_len()
    local s = native_snaps[piece]
    if s then
        s = copy(s)
    else
        native_snaps[piece] = copy(st)
        s = st
    end
    local steps = from_client(pinfo, s) and client_step or server_step
    local side = steps == client_step and "c" or "s"
    return each_pdu(tvb, pinfo, function(off, left)
        return steps[s[side]](tvb, off, left, pinfo, tree, s)
    end)
end

function ferry.dissector(tvb, pinfo, tree)
    return native_dissect(tvb, pinfo, tree)
end

-- The heuristic, for ferry on a port of its own: the first payload of a
-- connection must be one whole request of version 1, alone in its segment:
-- FILE_REQUEST or GET with a valid name exactly filling it, PUT's header
-- and a valid PUT name (1-100 bytes, no leading '.') exactly filling it
-- (its content comes in later segments), or LIST's four bytes 01 05 00 00.
-- Later segments follow through the conversation.
local function native_heuristic(tvb, pinfo, tree)
    local key = conv_key(pinfo)
    local first = native_heur_first[key]
    if not first then
        native_heur_first[key] = pinfo.number
    elseif first ~= pinfo.number then
        return false
    end
    local len = tvb:len()
    if len < 4 or len ~= tvb:reported_len() or tvb(0, 1):uint() ~= 1 then return false end
    local mtype = tvb(1, 1):uint()
    local head = (mtype == 1 and 4) or (mtype == 7 and 20) or (mtype == 5 and 4)
        or (mtype == 8 and PUT_HEAD)
    if not head then return false end
    if mtype == 5 then
        if len ~= 4 or tvb(2, 2):uint() ~= 0 then return false end
    else
        if len <= head then return false end
        local nl = tvb(2, 2):uint()
        local valid = mtype == 8 and valid_put_name or valid_name
        if len ~= head + nl or not valid(tvb:raw(head, nl)) then return false end
    end
    if not native_convs[key] then
        native_convs[key] = { c = "request", s = "response",
            caddr = tostring(pinfo.src), cport = pinfo.src_port }
    end
    pinfo.conversation = ferry
    native_dissect(tvb, pinfo, tree)
    return true
end

DissectorTable.get("tcp.port"):add(NATIVE_PORT, ferry)
ferry:register_heuristic("tcp", native_heuristic)

------------------------------------------------------------------ lottery

local lottery = Proto("ferrylottery", "Ferry lottery service")

-- The little-endian encodings of 1 and 2 are accepted too (a client that
-- writes its int raw from an x86 machine).
local COMMANDS = {
    [0] = "GEN", [1] = "LIST", [2] = "END",
    [16777216] = "LIST (little-endian)", [33554432] = "END (little-endian)",
}

local lf = {
    cmd = ProtoField.uint32("ferrylottery.cmd", "Command", base.DEC, COMMANDS),
    cmd_name = ProtoField.string("ferrylottery.cmd_name", "Command name"),
    little = ProtoField.bool("ferrylottery.little_endian", "Little-endian encoding"),
    answer = ProtoField.string("ferrylottery.answer", "Answer"),
    kind = ProtoField.string("ferrylottery.kind", "Answer kind"),
    number = ProtoField.uint32("ferrylottery.number", "Number generated"),
    numbers = ProtoField.uint32("ferrylottery.list_number", "Number (0: not drawn yet)"),
    drawn = ProtoField.uint8("ferrylottery.drawn", "Numbers drawn"),
    error_cmd = ProtoField.uint32("ferrylottery.error_cmd", "Unknown command"),
}
lottery.fields = { lf.cmd, lf.cmd_name, lf.little, lf.answer, lf.kind, lf.number, lf.numbers,
    lf.drawn, lf.error_cmd }

local le = {
    unknown_cmd = ProtoExpert.new("ferrylottery.unknown_cmd",
        "Unknown command (the server answers an error)", expert.group.PROTOCOL,
        expert.severity.NOTE),
    unknown_answer = ProtoExpert.new("ferrylottery.unknown_answer", "Answer of no known form",
        expert.group.MALFORMED, expert.severity.WARN),
    long_line = ProtoExpert.new("ferrylottery.long_line", "No line end within 256 bytes",
        expert.group.MALFORMED, expert.severity.WARN),
}
lottery.experts = { le.unknown_cmd, le.unknown_answer, le.long_line }

local lottery_convs = {}

-- A decimal that fits a u32 field, or nil.
local function u32(digits)
    local n = digits and tonumber(digits)
    if n and n <= 4294967295 then return n end
    return nil
end

function lottery.init()
    lottery_convs = {}
end

local function lottery_command(tvb, off, avail, pinfo, tree)
    if avail < 4 then return nil, 4 - avail end
    local v = tvb(off, 4):uint()
    local name = COMMANDS[v] or "unknown"
    local t = tree:add(lottery, tvb(off, 4))
    local item = t:add(lf.cmd, tvb(off, 4))
    t:add(lf.cmd_name, tvb(off, 4), name):set_generated()
    t:add(lf.little, tvb(off, 4), v == 16777216 or v == 33554432):set_generated()
    if not COMMANDS[v] then item:add_proto_expert_info(le.unknown_cmd) end
    t:append_text(", command " .. name .. (COMMANDS[v] and "" or (" " .. v)))
    set_info(pinfo, "FERRYLOTTERY", COMMANDS[v] and name or ("unknown command " .. v))
    return 4
end

-- One answer line, "\n" included.
local function lottery_answer(tvb, off, avail, pinfo, tree)
    local raw = tvb:raw(off, avail < 257 and avail or 257)
    local nl = raw:find("\n", 1, true)
    local t
    if not nl then
        if avail <= 256 then return nil, DESEGMENT_ONE_MORE_SEGMENT end
        t = tree:add(lottery, tvb(off, avail))
        t:add_proto_expert_info(le.long_line)
        set_info(pinfo, "FERRYLOTTERY", "unterminated answer")
        return avail
    end
    local line = raw:sub(1, nl - 1)
    local text_len = #line
    if line:sub(-1) == "\r" then line = line:sub(1, -2) end
    t = tree:add(lottery, tvb(off, nl))
    t:add(lf.answer, tvb(off, text_len > 0 and text_len or nl), line)
    local kind, info = "UNKNOWN", line
    local n = u32(line:match("^New number generated: (%d+)$"))
    if n then
        kind = "NEW_NUMBER"
        local s, e = line:find("%d+$")
        t:add(lf.number, tvb(off + s - 1, e - s + 1), n)
    elseif line == "Full" then
        kind = "FULL"
    elseif line:match("^numbers:") then
        kind = "NUMBERS"
        local k, drawn = 0, 0
        for pos, num in line:gmatch("()(%d+)") do
            k = k + 1
            if u32(num) then
                t:add(lf.numbers, tvb(off + pos - 1, #num), u32(num))
                if u32(num) ~= 0 then drawn = drawn + 1 end
            end
        end
        t:add(lf.drawn, tvb(off, nl), drawn):set_generated()
        if k ~= 6 then
            t:add_proto_expert_info(le.unknown_answer, k .. " numbers instead of 6")
        end
    else
        local c = u32(line:match("^error: unknown command (%d+)$"))
        if c then
            kind = "ERROR"
            local s, e = line:find("%d+$")
            t:add(lf.error_cmd, tvb(off + s - 1, e - s + 1), c)
        else
            t:add_proto_expert_info(le.unknown_answer)
        end
    end
    t:add(lf.kind, tvb(off, nl), kind):set_generated()
    t:append_text(", answer " .. kind)
    set_info(pinfo, "FERRYLOTTERY", printable(info))
    return nl
end

function lottery.dissector(tvb, pinfo, tree)
    local key = conv_key(pinfo)
    local st = lottery_convs[key]
    if not st then
        st = {}
        st.caddr, st.cport = client_side(pinfo)
        lottery_convs[key] = st
    end
    local step = from_client(pinfo, st) and lottery_command or lottery_answer
    return each_pdu(tvb, pinfo, function(off, left)
        return step(tvb, off, left, pinfo, tree)
    end)
end

-- No default port and no heuristic (four-byte integers look like anything):
-- Decode As only.
DissectorTable.get("tcp.port"):add_for_decode_as(lottery)

------------------------------------------------------------------ hub

local hub = Proto("ferryhub", "Ferry hub protocol")

local OPCODES = {
    [0x00] = "SESSION_RESET", [0xF0] = "MUST_LOGIN_FIRST", [0xF1] = "ERROR",
    [0x10] = "LOGIN", [0x80] = "LOGIN_ACK_OK", [0x81] = "LOGIN_ACK_FAILED",
    [0x11] = "LOGIN_PROOF", [0x82] = "LOGIN_CHALLENGE",
    [0x20] = "SUBSCRIBE", [0x90] = "SUBSCRIBE_ACK_OK", [0x91] = "SUBSCRIBE_ACK_FAILED",
    [0x21] = "UNSUBSCRIBE", [0xA0] = "UNSUBSCRIBE_ACK_OK", [0xA1] = "UNSUBSCRIBE_ACK_FAILED",
    [0x30] = "POST", [0xB0] = "POST_ACK", [0xB1] = "FORWARD", [0x31] = "FORWARD_ACK",
    [0xB2] = "FILE_NOTIFICATION", [0x32] = "FILE_NOTIFICATION_ACK",
    [0x40] = "RETRIEVE", [0xC0] = "RETRIEVE_ACK", [0xC1] = "END_OF_RETRIEVE",
    [0x1F] = "LOGOUT", [0x8F] = "LOGOUT_ACK", [0x0E] = "KEEPALIVE", [0x8E] = "KEEPALIVE_ACK",
    [0x7F] = "TEST_HOOK",
}
local HEADER, TRAILER = 12, 24 -- the secure envelope: seq u64 + 16-byte tag

-- The secure wire's login (common/hubsec.h): a HELLO (opcode 0x10, plain)
-- is the client's ephemeral X25519 key, a u8 id length, the id, and zeros
-- to 145 bytes; the CHALLENGE (0x82, plain) is the salt, a u8 kdf, the
-- hub's ephemeral X25519 key, its long-term Ed25519 key and its Ed25519
-- signature, 145 bytes too; the PROOF (0x11) is the client's 64-byte
-- signature, always sealed. Nothing here checks the cryptography.
local SALT, PK, SIG = 16, 32, 64
local HELLO_LEN = SALT + 1 + PK + PK + SIG -- 145, the CHALLENGE's length as well
local ID_MAX = 32
local KDFS = { [1] = "Argon2id v1.3, interactive limits" }

local hf = {
    magic = ProtoField.uint16("ferryhub.magic", "Magic", base.HEX),
    opcode = ProtoField.uint8("ferryhub.opcode", "Opcode", base.HEX, OPCODES),
    payload_len = ProtoField.uint8("ferryhub.payload_len", "Payload length"),
    token = ProtoField.uint32("ferryhub.token", "Token", base.HEX),
    msg_id = ProtoField.uint32("ferryhub.msg_id", "Message id"),
    direction = ProtoField.string("ferryhub.direction", "Direction"),
    mode = ProtoField.string("ferryhub.mode", "Mode"),
    payload = ProtoField.string("ferryhub.payload", "Payload"),
    publisher = ProtoField.string("ferryhub.publisher", "Publisher"),
    text = ProtoField.string("ferryhub.text", "Text"),
    login_id = ProtoField.string("ferryhub.login.id", "Id"),
    password = ProtoField.string("ferryhub.login.password", "Password"),
    login_form = ProtoField.string("ferryhub.login.form",
        "Login form (hello: the secure wire's; password: the plain wire's id&password)"),
    hello_eph = ProtoField.bytes("ferryhub.hello.eph", "Client ephemeral X25519 key"),
    hello_id_len = ProtoField.uint8("ferryhub.hello.id_len", "Id length"),
    hello_id = ProtoField.string("ferryhub.hello.id", "Id"),
    hello_padding = ProtoField.bytes("ferryhub.hello.padding", "Padding (zeros)"),
    ch_salt = ProtoField.bytes("ferryhub.challenge.salt", "Account salt"),
    ch_kdf = ProtoField.uint8("ferryhub.challenge.kdf", "Key derivation", base.DEC, KDFS),
    ch_eph = ProtoField.bytes("ferryhub.challenge.eph", "Hub ephemeral X25519 key"),
    ch_hub_key = ProtoField.bytes("ferryhub.challenge.hub_key", "Hub long-term Ed25519 key"),
    ch_sig = ProtoField.bytes("ferryhub.challenge.sig", "Hub signature over the transcript"),
    payload_bytes = ProtoField.bytes("ferryhub.payload_bytes", "Payload (binary)"),
    sub_id = ProtoField.string("ferryhub.subscribe.id", "Publisher id"),
    count = ProtoField.uint32("ferryhub.retrieve.count", "Messages asked"),
    reason = ProtoField.string("ferryhub.reason", "Reason"),
    file_name = ProtoField.string("ferryhub.file.name", "File name"),
    file_size = ProtoField.uint64("ferryhub.file.size", "File size"),
    file_sha = ProtoField.string("ferryhub.file.sha256", "SHA-256"),
    ciphertext = ProtoField.bytes("ferryhub.ciphertext", "Ciphertext"),
    ct_len = ProtoField.uint32("ferryhub.ciphertext_len", "Ciphertext length"),
    seq = ProtoField.uint64("ferryhub.seq", "Sequence number"),
    tag = ProtoField.bytes("ferryhub.tag", "Authentication tag"),
}
hub.fields = { hf.magic, hf.opcode, hf.payload_len, hf.token, hf.msg_id, hf.direction,
    hf.mode, hf.payload, hf.publisher, hf.text, hf.login_id, hf.password, hf.sub_id, hf.count,
    hf.reason, hf.file_name, hf.file_size, hf.file_sha, hf.ciphertext, hf.ct_len, hf.seq, hf.tag,
    hf.login_form, hf.hello_eph, hf.hello_id_len, hf.hello_id, hf.hello_padding, hf.ch_salt,
    hf.ch_kdf, hf.ch_eph, hf.ch_hub_key, hf.ch_sig, hf.payload_bytes }

local he = {
    length = ProtoExpert.new("ferryhub.bad_length",
        "Length is neither 12 + payload_len (plain) nor 12 + payload_len + 24 (secure)",
        expert.group.MALFORMED, expert.severity.ERROR),
    opcode = ProtoExpert.new("ferryhub.unknown_opcode", "Unknown opcode",
        expert.group.PROTOCOL, expert.severity.WARN),
    payload = ProtoExpert.new("ferryhub.bad_payload", "Payload not of the expected form",
        expert.group.MALFORMED, expert.severity.WARN),
    form = ProtoExpert.new("ferryhub.wrong_form",
        "Plain where the secure wire always seals it, or sealed where it never is",
        expert.group.PROTOCOL, expert.severity.WARN),
    kdf = ProtoExpert.new("ferryhub.unknown_kdf", "Unknown key derivation in a CHALLENGE",
        expert.group.PROTOCOL, expert.severity.WARN),
}
hub.experts = { he.length, he.opcode, he.payload, he.form, he.kdf }

local function direction(op)
    if op == 0x00 then return "either way" end
    return op < 0x80 and "client to server" or "server to client"
end

-- "<publisher>rest": the publisher, and the offset where the rest starts.
local function split_publisher(raw)
    local p = raw:match("^<([^>]*)>")
    if not p then return nil end
    return p, #p + 2
end

-- The id of a HELLO-shaped login payload (hubsec_hello_parse's rules:
-- 145 bytes, a u8 length at offset 32, an id of [A-Za-z0-9_]{1,32}, zeros
-- to the end), or nil: then it is the plain wire's "id&password".
local function hello_id(raw)
    if #raw ~= HELLO_LEN then return nil end
    local n = raw:byte(PK + 1)
    if n < 1 or n > ID_MAX then return nil end
    local id = raw:sub(PK + 2, PK + 1 + n)
    if not id:match("^[A-Za-z0-9_]+$") then return nil end
    for i = PK + 2 + n, #raw do
        if raw:byte(i) ~= 0 then return nil end
    end
    return id
end

-- A plain payload that is binary (a HELLO, a CHALLENGE, a PROOF outside
-- its envelope): its fields, and the text for the Info column; nil for a
-- payload of text, left to hub_payload.
local function hub_binary(t, tvb, p, raw, op)
    local plen = #raw
    local function sub(from, n) return tvb(p + from, n) end
    if op == 0x10 then
        local id = hello_id(raw)
        if not id then return nil end
        t:add(hf.login_form, sub(0, plen), "hello"):set_generated()
        t:add(hf.hello_eph, sub(0, PK))
        t:add(hf.hello_id_len, sub(PK, 1))
        t:add(hf.hello_id, sub(PK + 1, #id))
        t:add(hf.hello_padding, sub(PK + 1 + #id, plen - PK - 1 - #id))
        return "HELLO " .. id
    elseif op == 0x82 then
        if plen ~= HELLO_LEN then
            t:add(hf.payload_bytes, sub(0, plen))
            t:add_proto_expert_info(he.payload, string.format(
                "CHALLENGE of %d bytes, not %d: a client refuses it", plen, HELLO_LEN))
            return string.format("[%d bytes, not a challenge]", plen)
        end
        local kdf = raw:byte(SALT + 1)
        t:add(hf.ch_salt, sub(0, SALT))
        local kitem = t:add(hf.ch_kdf, sub(SALT, 1))
        if not KDFS[kdf] then
            kitem:add_proto_expert_info(he.kdf, "Unknown key derivation " .. kdf ..
                ": a client refuses the challenge")
        end
        t:add(hf.ch_eph, sub(SALT + 1, PK))
        t:add(hf.ch_hub_key, sub(SALT + 1 + PK, PK))
        t:add(hf.ch_sig, sub(SALT + 1 + 2 * PK, SIG))
        return "kdf=" .. (KDFS[kdf] and "Argon2id" or tostring(kdf))
    elseif op == 0x11 then
        t:add(hf.payload_bytes, sub(0, plen))
        return string.format("[%d bytes]", plen)
    end
    return nil
end

-- The plain payload's fields, by opcode; p is payload's offset, raw its bytes.
local function hub_payload(t, tvb, p, raw, op)
    local function sub(from, n) return tvb(p + from, n) end
    if op == 0x10 then
        t:add(hf.login_form, sub(0, #raw), "password"):set_generated()
        local amp = raw:find("&", 1, true)
        if not amp then return t:add_proto_expert_info(he.payload, "Login without '&'") end
        if amp > 1 then t:add(hf.login_id, sub(0, amp - 1)) end
        if amp < #raw then t:add(hf.password, sub(amp, #raw - amp)) end
    elseif op == 0x20 or op == 0x21 then
        t:add(hf.sub_id, sub(0, #raw))
    elseif op == 0x30 then
        t:add(hf.text, sub(0, #raw))
    elseif op == 0x40 then
        local n = u32(raw:match("^%s*(%d+)%s*$"))
        if not n then return t:add_proto_expert_info(he.payload, "Retrieve without a count") end
        t:add(hf.count, sub(0, #raw), n)
    elseif op == 0xF1 then
        t:add(hf.reason, sub(0, #raw))
    elseif op == 0xB1 or op == 0xC0 or op == 0xB2 then
        local pub, at = split_publisher(raw)
        if not pub then return t:add_proto_expert_info(he.payload, "No <publisher>") end
        if #pub > 0 then t:add(hf.publisher, sub(1, #pub)) end
        local rest = raw:sub(at + 1)
        if op ~= 0xB2 then
            if #rest > 0 then t:add(hf.text, sub(at, #rest)) end
            return
        end
        local name, size, sha = rest:match("^(.+) (%d+) (%x+)$")
        if not name then
            return t:add_proto_expert_info(he.payload, "Not NAME SIZE SHA256HEX")
        end
        t:add(hf.file_name, sub(at, #name))
        t:add(hf.file_size, sub(at + #name + 1, #size), UInt64.new(size))
        local sitem = t:add(hf.file_sha, sub(at + #name + #size + 2, #sha))
        if #sha ~= 64 then sitem:add_proto_expert_info(he.payload, "Not 64 hex digits") end
    end
end

local function hub_dissect(tvb, pinfo, tree)
    local len = tvb:len()
    local t = tree:add(hub, tvb())
    pinfo.cols.protocol:set("FERRYHUB")
    if len < HEADER then
        t:add_proto_expert_info(he.length, "Shorter than the 12-byte header")
        pinfo.cols.info:set("Malformed: " .. len .. " bytes")
        return len
    end
    local op, plen = tvb(2, 1):uint(), tvb(3, 1):uint()
    t:add(hf.magic, tvb(0, 2))
    local oitem = t:add(hf.opcode, tvb(2, 1))
    if not OPCODES[op] then oitem:add_proto_expert_info(he.opcode) end
    t:add(hf.payload_len, tvb(3, 1))
    t:add(hf.token, tvb(4, 4))
    t:add(hf.msg_id, tvb(8, 4))
    t:add(hf.direction, tvb(2, 1), direction(op)):set_generated()
    local name = OPCODES[op] or string.format("opcode 0x%02x", op)
    local info = string.format("%s token=0x%08x msg_id=%d", name, tvb(4, 4):uint(),
        tvb(8, 4):uint())
    if len == HEADER + plen then
        t:add(hf.mode, tvb(0, len), "plain"):set_generated()
        if op == 0x11 then
            t:add_proto_expert_info(he.form,
                "LOGIN_PROOF outside the secure envelope: it is always sealed, never taken plain")
        elseif op == 0x82 and plen == 0 then
            t:add_proto_expert_info(he.payload, "CHALLENGE without a payload: a client refuses it")
        end
        if plen > 0 then
            local raw = tvb:raw(HEADER, plen)
            local binary = hub_binary(t, tvb, HEADER, raw, op)
            if binary then
                info = info .. " " .. binary
            else
                t:add(hf.payload, tvb(HEADER, plen))
                hub_payload(t, tvb, HEADER, raw, op)
                info = info .. " " .. printable(tvb(HEADER, plen):string(ENC_UTF_8))
            end
        end
    elseif len == HEADER + plen + TRAILER then
        t:add(hf.mode, tvb(0, len), "secure"):set_generated()
        local citem
        if plen > 0 then citem = t:add(hf.ciphertext, tvb(HEADER, plen)) end
        t:add(hf.ct_len, tvb(3, 1), plen):set_generated()
        t:add(hf.seq, tvb(HEADER + plen, 8))
        t:add(hf.tag, tvb(HEADER + plen + 8, 16))
        info = info .. string.format(" [secure seq=%s, %d bytes]",
            tostring(tvb(HEADER + plen, 8):uint64()), plen)
        if op == 0x11 and plen == SIG then
            citem:append_text(" (the client's Ed25519 signature over the transcript, sealed)")
        elseif op == 0x11 then
            t:add_proto_expert_info(he.payload, string.format(
                "LOGIN_PROOF of %d bytes, not a %d-byte signature: the hub rejects it",
                plen, SIG))
        elseif op == 0x10 then
            t:add_proto_expert_info(he.form,
                "LOGIN in a secure envelope: a login (a HELLO) always travels plain; " ..
                "the hub drops it")
        elseif op == 0x82 then
            t:add_proto_expert_info(he.form,
                "LOGIN_CHALLENGE in a secure envelope: it always travels plain")
        end
    else
        t:add(hf.mode, tvb(0, len), "malformed"):set_generated()
        t:add_proto_expert_info(he.length, string.format(
            "%d bytes: neither plain (%d) nor secure (%d)", len, HEADER + plen,
            HEADER + plen + TRAILER))
        info = info .. " [malformed length]"
    end
    t:append_text(", " .. name)
    pinfo.cols.info:set(info)
    return len
end

function hub.dissector(tvb, pinfo, tree)
    if tvb:len() < 2 or tvb(0, 1):uint() ~= 0x46 or tvb(1, 1):uint() ~= 0x52 then
        return 0 -- not the hub's: let another dissector have it
    end
    return hub_dissect(tvb, pinfo, tree)
end

-- The heuristic: "FR", a known opcode, and a length that is plain or secure.
local function hub_heuristic(tvb, pinfo, tree)
    local len = tvb:len()
    if len < HEADER or tvb(0, 1):uint() ~= 0x46 or tvb(1, 1):uint() ~= 0x52 then return false end
    local op, plen = tvb(2, 1):uint(), tvb(3, 1):uint()
    if not OPCODES[op] then return false end
    if len ~= HEADER + plen and len ~= HEADER + plen + TRAILER then return false end
    hub_dissect(tvb, pinfo, tree)
    return true
end

DissectorTable.get("udp.port"):add(HUB_PORT, hub)
hub:register_heuristic("udp", hub_heuristic)
