#!/usr/bin/env python3
"""Independent decode of DMR / PDT bursts with OK-DMR/ok-dmrlib 0.8.0 (PyPI `ok-dmrlib`).

Reads one 33-octet burst as hex per line on stdin and writes one JSON object per line on
stdout with what ok-dmrlib makes of it: sync pattern, slot type (colour code, data type,
Golay parity check), the de-interleaved / FEC-decoded octets (BPTC(196,96), trellis 3/4,
rate 1), and for CSBKs and data headers the fields its PDU classes decode. ok-dmrlib only
knows the DMR CRC masks, so `crc_ok_dmr` says whether the block checks as DMR; PDT blocks
are expected to fail it. The test tests/oracle_okdmr.rs compares these fields with ours.
"""
import json
import sys

from bitarray.util import ba2int
from okdmr.dmrlib.etsi.crc.crc16 import CRC16
from okdmr.dmrlib.etsi.layer2.burst import Burst
from okdmr.dmrlib.etsi.layer2.elements.crc_masks import CrcMasks
from okdmr.dmrlib.etsi.layer2.elements.data_types import DataTypes
from okdmr.dmrlib.etsi.layer2.elements.sync_patterns import SyncPatterns
from okdmr.dmrlib.etsi.layer2.pdu.csbk import CSBK
from okdmr.dmrlib.etsi.layer2.pdu.data_header import DataHeader
from okdmr.dmrlib.etsi.layer2.pdu.slot_type import SlotType
from okdmr.dmrlib.utils.bits_bytes import bits_to_bytes, bytes_to_bits


def enum_value(v):
    return getattr(v, "value", v)


def decode(hexline: str) -> dict:
    bits = bytes_to_bits(bytes.fromhex(hexline))
    out = {}
    sync = SyncPatterns.resolve_bytes(bits_to_bytes(bits[108:156]))
    out["sync"] = sync.name
    if sync not in (SyncPatterns.BsSourcedData, SyncPatterns.MsSourcedData,
                    SyncPatterns.Tdma1Data, SyncPatterns.Tdma2Data):
        return out
    st = SlotType.from_bits(bits[98:108] + bits[156:166])
    out["colour_code"] = st.colour_code
    out["data_type"] = st.data_type.value
    out["slot_type_ok"] = bool(st.fec_parity_ok)
    info = bits[:98] + bits[166:]
    payload = Burst.deinterleave(info, st.data_type)
    if st.data_type == DataTypes.Rate34Data:
        block = payload[:144]
    elif st.data_type == DataTypes.Rate1Data:
        block = payload[:192]
    else:
        block = payload[:96]
    out["octets"] = bits_to_bytes(block).hex()
    if st.data_type == DataTypes.CSBK:
        out["lb"] = int(block[0])
        out["pf"] = int(block[1])
        out["csbko"] = ba2int(block[2:8])
        out["fid"] = ba2int(block[8:16])
        out["crc_ok_dmr"] = bool(CRC16.check(bits_to_bytes(block[:80]), ba2int(block[80:96]), CrcMasks.CSBK))
        try:
            c = CSBK.from_bits(block)
        except Exception as e:  # opcodes ok-dmrlib does not implement
            out["csbk_error"] = type(e).__name__
        else:
            out["csbk"] = {
                "target": c.target_address,
                "source": c.source_address,
                "blocks_to_follow": c.blocks_to_follow,
                "data_follows": not c.csbk_content_follows_preambles,
                "group": not c.target_address_is_individual,
            }
    elif st.data_type == DataTypes.DataHeader:
        try:
            h = DataHeader.from_bits(block)
        except Exception as e:  # DPFs ok-dmrlib does not implement (e.g. 14)
            out["header_error"] = type(e).__name__
        else:
            out["header"] = {
                "dpf": enum_value(h.data_packet_format),
                "group": bool(h.is_group),
                "response_requested": bool(h.is_response_requested),
                "sap": enum_value(h.sap_identifier),
                "destination": h.llid_destination,
                "source": h.llid_source,
                "blocks_to_follow": h.blocks_to_follow,
                "pad_octets": h.pad_octet_count,
                "full_message": None if h.full_message_flag is None else int(enum_value(h.full_message_flag)),
                "fsn": enum_value(h.fragment_sequence_number),
                "crc_ok_dmr": bool(h.crc_ok),
            }
    return out


def main() -> None:
    for line in sys.stdin:
        line = line.strip()
        if line:
            try:
                print(json.dumps(decode(line)))
            except Exception as e:
                print(json.dumps({"error": f"{type(e).__name__}: {e}"}))


if __name__ == "__main__":
    main()
