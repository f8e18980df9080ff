//! TPKT (T.123) and fast-path framing: where each slow-path or fast-path PDU ends.
