//! Transactions in flight at once, as a worker has them while requests
//! wait on their upstreams: each hands its memo back when its request
//! phases end, and the later phases, on a memo other requests used in
//! between, still see their own request's data.

use super::*;

#[test]
fn later_phases_of_transactions_in_flight_see_their_own_request() {
    let e = engine(
        "SecRule ARGS:q \"@rx ^([0-9]+)$\" \"id:1,phase:2,pass,capture,setvar:tx.q=%{tx.1}\"\n\
         SecRule RESPONSE_STATUS \"@eq 404\" \"id:2,phase:3,deny,status:410,chain\"\n\
         \tSecRule ARGS:q|REQUEST_HEADERS:User-Agent \"@rx [02468]$\"\n\
         SecRule REQUEST_HEADERS:User-Agent \"@endsWith -%{tx.q}\" \"id:3,phase:5,pass,log\"\n",
    );
    let uris: Vec<String> = (0..60).map(|i| format!("/a?q={}", i % 25)).collect();
    let agents: Vec<String> = (0..60)
        .map(|i| format!("agent-{}", i % 25 + usize::from(i % 4 == 1)))
        .collect();
    for round in 0..3 {
        let mut flight: Vec<(usize, Transaction)> = (0..60)
            .map(|i| {
                let mut r = get(&uris[i]);
                r.headers[1].1 = &agents[i];
                let tx = run(&e, &r);
                assert_eq!(status(&tx), None, "request {i}");
                (i, tx)
            })
            .collect();
        // Answered out of order, as upstreams answer.
        flight.sort_by_key(|(i, _)| (i * 37) % 60);
        for (i, mut tx) in flight {
            let code = if i % 3 == 0 { 404 } else { 200 };
            tx.response_headers(code, "HTTP/1.1", &[(b"content-length", b"2")]);
            tx.logging();
            let q = i % 25;
            let agent = q + usize::from(i % 4 == 1);
            let even = q % 2 == 0 || agent % 2 == 0;
            let want = (code == 404 && even).then_some(410);
            assert_eq!(status(&tx), want, "request {i}, round {round}");
            assert_eq!(
                ids(&tx).contains(&3),
                agent == q,
                "request {i}, round {round}"
            );
        }
    }
}
