//! Target lists kept across requests: a request whose data repeats an
//! earlier one's takes the excluded sets made for that data, and any
//! change to the data a rule reads is still seen.

use super::*;

#[test]
fn kept_target_lists_see_every_change_to_the_data_they_read() {
    let e = engine(
        "SecRule REQUEST_HEADERS:User-Agent \"@rx evil\" \"id:1,phase:1,deny\"\n\
         SecRule ARGS \"@rx evil\" \"id:2,phase:2,deny,status:404\"\n\
         SecRule REQUEST_HEADERS|!REQUEST_HEADERS:Cookie \"@contains evil\" \"id:3,phase:1,deny,status:401\"\n\
         SecRule REQUEST_COOKIES|REQUEST_FILENAME \"@rx evil\" \"id:4,phase:2,deny,status:402\"\n\
         SecRule ARGS_NAMES \"@rx evil\" \"id:5,phase:2,deny,status:405\"\n",
    );
    let base = |uri: &'static str| {
        let mut r = get(uri);
        r.headers.push(("Cookie", "s=fine"));
        r.headers.push(("Authorization", "Bearer fine"));
        r
    };
    for _ in 0..40 {
        assert_eq!(status(&run(&e, &base("/a?q=fine"))), None);
    }
    assert!(e.kept_target_lists() > 0, "nothing kept");
    let kept = e.kept_target_lists();

    let mut ua = base("/a?q=fine");
    ua.headers[1].1 = "evil";
    let mut cookie = base("/a?q=fine");
    cookie.headers[2].1 = "s=evil";
    let mut credential = base("/a?q=fine");
    credential.headers[3].1 = "Bearer evil";
    for round in 0..3 {
        for (r, want) in [
            (&ua, 403),
            (&base("/a?q=evil"), 404),
            (&base("/a?evil=fine"), 405),
            (&credential, 401),
            (&cookie, 402),
            (&base("/evil?q=fine"), 402),
        ] {
            let what = format!("{} {:?} round {round}", r.uri, r.headers);
            assert_eq!(status(&run(&e, r)), Some(want), "{what}");
            assert_eq!(status(&run(&e, &base("/a?q=fine"))), None, "round {round}");
        }
    }
    assert!(e.kept_target_lists() >= kept);
}
