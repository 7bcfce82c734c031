//! Unit tests of `secrets::sigv4`.

use super::*;

// Published example credentials (AWS documentation), not secrets.
const SUITE: Signer<'static> = Signer {
    access_key_id: "AKIDEXAMPLE",
    secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    region: "us-east-1",
    service: "service",
};
const S3_DOC: Signer<'static> = Signer {
    access_key_id: "AKIAIOSFODNN7EXAMPLE",
    secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    region: "us-east-1",
    service: "s3",
};

fn signature(auth: &str) -> &str {
    auth.rsplit_once("Signature=").unwrap().1
}

/// AWS SigV4 test suite: `get-vanilla` and `get-vanilla-query-order-key-case`.
#[test]
fn signs_the_aws_test_suite_vectors() {
    let headers = [
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", "20150830T123600Z"),
    ];
    let cases: [(&[(&str, &str)], &str); 2] = [
        (
            &[],
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            &[("Param2", "value2"), ("Param1", "value1")],
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
    ];
    for (query, want) in cases {
        let req = Request {
            method: "GET",
            path: "/",
            query,
            headers: &headers,
            payload_sha256: EMPTY_SHA256,
        };
        let auth = SUITE.authorization("20150830T123600Z", &req);
        assert_eq!(signature(&auth), want);
        assert!(auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, "
            ));
    }
}

/// Amazon S3 API reference, "Signature Calculations for the Authorization Header":
/// the GET Object and GET Bucket (List Objects) examples.
#[test]
fn signs_the_documented_s3_examples() {
    let get_object = Request {
        method: "GET",
        path: "/test.txt",
        query: &[],
        headers: &[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", "20130524T000000Z"),
        ],
        payload_sha256: EMPTY_SHA256,
    };
    let auth = S3_DOC.authorization("20130524T000000Z", &get_object);
    assert_eq!(
        auth,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
    let list = Request {
        method: "GET",
        path: "/",
        query: &[("prefix", "J"), ("max-keys", "2")],
        headers: &[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", "20130524T000000Z"),
        ],
        payload_sha256: EMPTY_SHA256,
    };
    assert_eq!(
        signature(&S3_DOC.authorization("20130524T000000Z", &list)),
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    );
}

#[test]
fn encoding_keeps_only_unreserved_characters() {
    let cases = [
        ("a-b_c.d~e", true, "a-b_c.d~e"),
        ("a b/c+d=é", false, "a%20b%2Fc%2Bd%3D%C3%A9"),
        ("media/x y", true, "media/x%20y"),
    ];
    for (input, keep, want) in cases {
        assert_eq!(uri_encode(input, keep), want, "{input}");
    }
    assert_eq!(
        canonical_query(&[("max-keys", "1"), ("list-type", "2")]),
        "list-type=2&max-keys=1"
    );
}

#[test]
fn amz_date_is_utc_basic_format() {
    let t = time::macros::datetime!(2015-08-30 14:36:00 +02:00);
    assert_eq!(amz_date(t), "20150830T123600Z");
}
